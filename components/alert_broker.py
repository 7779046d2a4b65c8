"""Staff alerts from inside the Rasa server, as a custom event broker.

Rasa publishes every new tracker event to the configured broker (a dict with `event`,
`sender_id`, and for slots `name` and `value`). This broker watches `triage_level` and
`red_flags` and, when a conversation rises to `consultation_24` or above, hands one alert to a
background thread (bot/alerts.py). It needs no action server, never blocks the event loop and
never raises into message handling. Configure in endpoints.yml:

    event_broker:
      type: components.alert_broker.StaffAlertBroker

Channels and links come from the environment (ALERT_SMTP_*, ALERT_WEBHOOK_*, REVIEW_BASE_URL;
see bot/settings.py). With none configured the broker does nothing.
"""

from __future__ import annotations

import asyncio
import logging
from asyncio import AbstractEventLoop
from typing import Any, Optional

from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy.exc import SQLAlchemyError

from bot.alerts import AlertDispatcher, AlertLedger, AlertWatcher
from bot.settings import Settings, load_settings

logger = logging.getLogger(__name__)


class StaffAlertBroker(EventBroker):
    def __init__(self, settings: Optional[Settings] = None, dispatcher: Optional[AlertDispatcher] = None) -> None:
        self.settings = settings or load_settings()
        self.watcher = AlertWatcher()
        self._due: set[str] = set()
        self._flush_scheduled = False
        self.dispatcher = dispatcher
        if self.dispatcher is None and self.settings.alerts_on:
            self.dispatcher = AlertDispatcher(self.settings, self._ledger()).start()
        if self.dispatcher is None:
            logger.info("staff alerts are off: set ALERT_SMTP_HOST/ALERT_SMTP_TO or ALERT_WEBHOOK_URL")

    def _ledger(self) -> Optional[AlertLedger]:
        try:
            return AlertLedger(self.settings.booking_db_url)
        except SQLAlchemyError as error:
            logger.warning(
                "staff alerts: no ledger (%s); duplicates after a restart are possible", type(error).__name__
            )
            return None

    @classmethod
    async def from_endpoint_config(
        cls, broker_config: EndpointConfig, event_loop: Optional[AbstractEventLoop] = None
    ) -> StaffAlertBroker:
        # All settings come from the environment (bot/settings.py), like the rest of the bot.
        return cls()

    def publish(self, event: dict[str, Any]) -> None:
        if self.dispatcher is None:
            return
        try:
            conversation_id = self.watcher.observe(event)
            if conversation_id is None:
                return
            self._due.add(conversation_id)
            try:
                loop: Optional[AbstractEventLoop] = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is None:
                self._flush()
            elif not self._flush_scheduled:
                # Rasa publishes a turn's events one after another without yielding: flushing
                # on the next loop iteration lets red flags set after the level join the alert.
                self._flush_scheduled = True
                loop.call_soon(self._flush)
        except Exception as error:  # an alert problem must never break the conversation
            logger.error("staff alert not queued: conversation %s (%s)", event.get("sender_id"), type(error).__name__)

    def _flush(self) -> None:
        self._flush_scheduled = False
        due, self._due = self._due, set()
        for conversation_id in due:
            try:
                alert = self.watcher.alert_for(conversation_id)
                if alert is not None and self.dispatcher is not None:
                    self.dispatcher.submit(alert)
            except Exception as error:
                logger.error("staff alert not queued: conversation %s (%s)", conversation_id, type(error).__name__)

    def is_ready(self) -> bool:
        return True

    async def close(self) -> None:
        if self._due:
            self._flush()
        if self.dispatcher is not None:
            await asyncio.to_thread(self.dispatcher.stop, 10.0)
            if self.dispatcher.ledger is not None:
                self.dispatcher.ledger.dispose()
