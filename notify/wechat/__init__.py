"""wechatpy clients, shared token storage, transport adapters, OAuth and the callback gateway."""
