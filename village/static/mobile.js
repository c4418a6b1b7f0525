/* 矛调通 grid-worker pages: forms that survive a dropped connection, photos shrunk before upload.
 *
 * A form with data-draft="<name>" is kept in localStorage while it is filled in (photos as shrunk JPEG data
 * URLs). Submitting sends it with fetch and the header X-Draft-Submit; the server answers JSON {url} on
 * success. Offline or on a network error the draft stays "pending" and is sent again when the phone is back
 * online. If the session or the CSRF token expired meanwhile, the page is reloaded with ?resume=1 (inside
 * WeChat that signs in silently) and the pending draft is replayed once. The hidden intake_key makes a double
 * or late submit create one case. Drafts hold personal data: removed once submitted, on sign-out, and after
 * 24 hours. No inline script (CSP): everything here is bound on load. */
(function () {
  "use strict";
  var PREFIX = "mdt-draft:";
  var MAX_AGE = 24 * 3600 * 1000;
  var MAX_EDGE = 1600;

  function store() { try { return window.localStorage; } catch (e) { return null; } }

  function purgeOld() {
    var s = store(); if (!s) return;
    for (var i = s.length - 1; i >= 0; i--) {
      var k = s.key(i);
      if (k && k.indexOf(PREFIX) === 0) {
        try { var d = JSON.parse(s.getItem(k)); if (!d || Date.now() - d.saved > MAX_AGE) s.removeItem(k); }
        catch (e) { s.removeItem(k); }
      }
    }
  }

  function clearAll() {
    var s = store(); if (!s) return;
    for (var i = s.length - 1; i >= 0; i--) { var k = s.key(i); if (k && k.indexOf(PREFIX) === 0) s.removeItem(k); }
  }

  function shrink(file) {
    return new Promise(function (resolve) {
      if (!/^image\//.test(file.type)) { resolve(null); return; }
      var img = new Image();
      var url = URL.createObjectURL(file);
      img.onload = function () {
        var scale = Math.min(1, MAX_EDGE / Math.max(img.width, img.height));
        var c = document.createElement("canvas");
        c.width = Math.round(img.width * scale); c.height = Math.round(img.height * scale);
        c.getContext("2d").drawImage(img, 0, 0, c.width, c.height);
        URL.revokeObjectURL(url);
        resolve(c.toDataURL("image/jpeg", 0.8));
      };
      img.onerror = function () { URL.revokeObjectURL(url); resolve(null); };
      img.src = url;
    });
  }

  function dataUrlToBlob(d) {
    var parts = d.split(","), bin = atob(parts[1]), arr = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) arr[i] = bin.charCodeAt(i);
    return new Blob([arr], { type: "image/jpeg" });
  }

  function Draft(form) {
    this.form = form;
    this.key = PREFIX + form.getAttribute("data-draft");
    this.photos = {};  // input name -> [data URLs]
    this.status = form.querySelector("[data-draft-status]");
  }

  Draft.prototype.fields = function () {
    var out = {}, els = this.form.elements;
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      if (!el.name || el.type === "file" || el.name === "csrf_token" || el.type === "submit") continue;
      if ((el.type === "checkbox" || el.type === "radio") && !el.checked) continue;
      out[el.name] = el.value;
    }
    return out;
  };

  Draft.prototype.save = function (pending) {
    var s = store(); if (!s) return;
    var old = this.load() || {};
    var data = { saved: Date.now(), fields: this.fields(), photos: this.photos,
                 pending: pending === undefined ? !!old.pending : pending };
    try { s.setItem(this.key, JSON.stringify(data)); }
    catch (e) { data.photos = {}; try { s.setItem(this.key, JSON.stringify(data)); } catch (e2) { /* full */ } }
  };

  Draft.prototype.load = function () {
    var s = store(); if (!s) return null;
    try { return JSON.parse(s.getItem(this.key)); } catch (e) { return null; }
  };

  Draft.prototype.drop = function () { var s = store(); if (s) s.removeItem(this.key); };

  Draft.prototype.say = function (text) { if (this.status) { this.status.textContent = text; this.status.hidden = !text; } };

  Draft.prototype.restore = function (data) {
    var els = this.form.elements;
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      if (!el.name || el.type === "file" || el.name === "csrf_token" || !(el.name in data.fields)) continue;
      if (el.type === "checkbox" || el.type === "radio") el.checked = data.fields[el.name] === el.value;
      else el.value = data.fields[el.name];
    }
    this.photos = data.photos || {};
    this.preview();
  };

  Draft.prototype.preview = function () {
    var box = this.form.querySelector("[data-photo-preview]");
    if (!box) return;
    box.textContent = "";
    var self = this;
    Object.keys(this.photos).forEach(function (name) {
      self.photos[name].forEach(function (d) { var im = new Image(); im.src = d; im.alt = "照片"; box.appendChild(im); });
    });
  };

  Draft.prototype.body = function () {
    var fd = new FormData(), f = this.fields(), self = this;
    Object.keys(f).forEach(function (k) { fd.append(k, f[k]); });
    var token = this.form.querySelector("input[name=csrf_token]");
    if (token) fd.append("csrf_token", token.value);
    Object.keys(this.photos).forEach(function (name) {
      self.photos[name].forEach(function (d, i) { fd.append(name, dataUrlToBlob(d), "photo-" + (i + 1) + ".jpg"); });
    });
    return fd;
  };

  Draft.prototype.send = function () {
    var self = this;
    self.save(true);
    if (navigator.onLine === false) { self.say("网络未连接：已保存在手机上，恢复网络后自动提交。"); return; }
    self.say("正在提交……");
    fetch(self.form.action, { method: "POST", body: self.body(), credentials: "same-origin", redirect: "manual",
                              headers: { "X-Draft-Submit": "1" } })
      .then(function (res) {
        if (res.type === "opaqueredirect" || res.status === 400 || res.status === 401) {
          // Signed out or the CSRF token expired: reload (silent WeChat sign-in), then replay once.
          var u = new URL(window.location.href); u.searchParams.set("resume", "1");
          window.location.replace(u.toString());
          return null;
        }
        if (res.status === 422) { self.save(false); self.nativeSubmit(); return null; }
        if (!res.ok) { self.say("提交未成功（" + res.status + "），已保存，稍后自动重试。"); return null; }
        return res.json().then(function (data) { self.drop(); window.location.assign(data.url); });
      })
      .catch(function () { self.say("网络不稳定：已保存在手机上，恢复网络后自动提交。"); });
  };

  Draft.prototype.nativeSubmit = function () {
    // Let the server show its field errors: put the shrunk photos into the file inputs, submit normally.
    var self = this;
    Object.keys(self.photos).forEach(function (name) {
      var input = self.form.querySelector("input[type=file][name='" + name + "']");
      if (!input || typeof DataTransfer === "undefined") return;
      var dt = new DataTransfer();
      self.photos[name].forEach(function (d, i) { dt.items.add(new File([dataUrlToBlob(d)], "photo-" + (i + 1) + ".jpg", { type: "image/jpeg" })); });
      input.files = dt.files;
    });
    self.form.setAttribute("data-native", "1");
    HTMLFormElement.prototype.submit.call(self.form);
  };

  function bind(form) {
    var d = new Draft(form);
    var saved = d.load();
    var resume = /[?&]resume=1/.test(window.location.search);
    if (saved) {
      d.restore(saved);
      if (saved.pending && resume) { d.send(); }
      else if (saved.pending) { d.say("有一份未提交成功的登记，已恢复。"); d.send(); }
      else { d.say("已恢复未填完的草稿。"); }
    }
    form.addEventListener("input", function () { d.save(); });
    form.addEventListener("change", function (ev) {
      var el = ev.target;
      if (el.type !== "file" || !el.hasAttribute("data-shrink")) { d.save(); return; }
      var files = Array.prototype.slice.call(el.files || [], 0, 6);
      Promise.all(files.map(shrink)).then(function (urls) {
        d.photos[el.name] = (d.photos[el.name] || []).concat(urls.filter(Boolean)).slice(-6);
        el.value = "";  // the shrunk copies are sent, not the camera's originals
        d.preview(); d.save();
      });
    });
    form.addEventListener("submit", function (ev) {
      if (form.getAttribute("data-native")) return;
      ev.preventDefault(); d.send();
    });
    window.addEventListener("online", function () { var s = d.load(); if (s && s.pending) d.send(); });
  }

  function steps(form) {
    // Up to three screens on a phone; without JavaScript all fieldsets simply show one after another.
    var sets = form.querySelectorAll("fieldset[data-step]");
    if (sets.length < 2) return;
    var at = 0;
    function show(i) {
      at = Math.max(0, Math.min(sets.length - 1, i));
      for (var j = 0; j < sets.length; j++) sets[j].hidden = j !== at;
      var bar = form.querySelector("[data-step-label]");
      if (bar) bar.textContent = "第 " + (at + 1) + " 步，共 " + sets.length + " 步";
    }
    form.addEventListener("click", function (ev) {
      var t = ev.target;
      if (t.hasAttribute("data-next")) {
        ev.preventDefault();
        var bad = sets[at].querySelector(":invalid");
        if (bad) { bad.reportValidity(); return; }
        show(at + 1); window.scrollTo(0, 0);
      } else if (t.hasAttribute("data-prev")) { ev.preventDefault(); show(at - 1); }
    });
    form.classList.add("stepped");
    show(0);
  }

  document.addEventListener("DOMContentLoaded", function () {
    purgeOld();
    var forms = document.querySelectorAll("form[data-draft]");
    for (var i = 0; i < forms.length; i++) { steps(forms[i]); bind(forms[i]); }
    var outs = document.querySelectorAll("form[action$='/logout']");
    for (var j = 0; j < outs.length; j++) outs[j].addEventListener("submit", clearAll);
  });
})();
