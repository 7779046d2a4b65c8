"""Rasa input and output channels for the clinic's web chat and messaging apps.

Listed by class path in `credentials.yml`:

- `channels.webchat.WebChatInput`: the website widget over socket.io, with the allowed origins
  read from `ALLOWED_ORIGINS` and red-flag alerts passed on to the widget.
- `channels.twilio.SignedTwilioInput`: SMS and WhatsApp through Twilio, signature checked.
- `channels.telegram.SecretTokenTelegramInput`: Telegram, secret-token header checked.
- `channels.facebook.SignedFacebookInput`: Facebook Messenger, SHA-256 signature checked.

Every messaging channel reads its secrets from environment variables (`channels.settings`) and
stays off, answering 503, until they are set: the bot runs with no account anywhere.
"""
