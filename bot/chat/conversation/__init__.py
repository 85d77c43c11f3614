"""The conversation engine: channel-neutral messages, flows declared as tables, state in Redis.

Channel adapters (bot/channels) turn platform messages into Inbound and Reply lists back into
platform replies; handlers/ declare the flows; bot.chat.service runs a message through them.
"""
