"""QR codes drawn on the server as inline SVG (segno, pure Python): no CDN and no image service ever sees what
they encode (a binding link, an authenticator's secret)."""

from __future__ import annotations

import io


def qr_svg(text: str) -> str:
    import segno

    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", scale=5, border=2, xmldecl=False, svgns=True,
                                     svgclass="qr", lineclass=None, dark="#000", light="#fff")
    return out.getvalue().decode()
