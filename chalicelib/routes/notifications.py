"""Notification channels, and delivering now."""

from chalicelib.api import payloads, responses
from chalicelib.apikey.access import MANAGE, RESPOND
from chalicelib.notify import channels, delivery
from chalicelib.routes.routing import Routes

routes = Routes("notifications")


@routes(
    "/api/notifications/channels",
    "GET",
    # Admins only: a Slack webhook URL is itself a credential to post in the channel.
    admits=MANAGE,
    summary="Notification channels (never their webhook secrets)",
    query=("service_name", "limit", "cursor"),
    answer=responses.ChannelPage,
)
def list_channels():
    return channels.list_channels(routes.service(), routes.limit(), routes.query("cursor"))


@routes(
    "/api/notifications/channels",
    "POST",
    admits=MANAGE,
    summary="Add a notification channel to a service; a webhook's signing secret is shown once",
    body=payloads.ChannelBody,
    status=201,
    answer=responses.NewChannel,
)
def create_channel(caller):
    return routes.created(channels.create_channel(routes.body(payloads.ChannelBody), caller.actor))


@routes(
    "/api/notifications/channels/{channel_id}",
    "DELETE",
    admits=MANAGE,
    summary="Remove a notification channel",
    status=204,
)
def delete_channel(channel_id):
    channels.delete_channel(channel_id)
    return routes.no_content()


@routes(
    "/api/notifications/deliver",
    "POST",
    admits=RESPOND,
    summary="Send owed and due notifications now",
    answer=responses.DeliveryRun,
)
def deliver_now():
    return delivery.run()
