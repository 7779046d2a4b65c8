"""Booking and call-back requests: validate, store first, then deliver (local, webhook, Cliniko).

Start with `bot.booking.service.get_booking_service()`; see docs/booking.md.
"""
