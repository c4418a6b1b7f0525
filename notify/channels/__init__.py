"""Channels behind one interface: ``send(request) -> SendResult`` and ``refresh_token()``."""

from __future__ import annotations

from notify.models import Channel


def get_channel(channel: Channel | str, config):
    channel = Channel(channel)
    if channel == Channel.wecom:
        from notify.channels.wecom import WecomChannel

        return WecomChannel(config)
    if channel == Channel.mp_template:
        from notify.channels.mp_template import MpTemplateChannel

        return MpTemplateChannel(config)
    if channel == Channel.sms:
        from notify.channels.sms import SmsStubChannel

        return SmsStubChannel(config)
    from notify.channels.log import LogChannel

    return LogChannel(config)
