/*!
 * Upwell chat widget: a small, dependency-light chat window for the clinic's Rasa bot.
 *
 * Embed with one script tag and a small config object (see docs/widget.md):
 *   <script>window.UpwellChatConfig = { socketUrl: "https://bot.example.org" };</script>
 *   <script src="https://bot.example.org/widget/upwell-chat.js" defer></script>
 * or put the options on the tag itself: data-socket-url, data-title, data-init-payload,
 * data-clinic-phone, data-storage, data-transports="websocket". The widget loads its stylesheet and the vendored socket.io
 * client from the folder it was loaded from.
 *
 * Protocol (Rasa's socket.io channel with session_persistence: true): after each connect, emit
 * `session_request` with the stored session id; `session_confirm` returns the id to use; each
 * `user_uttered` carries it. Rasa does not resend history, so the widget keeps the transcript in
 * sessionStorage (or localStorage) and re-renders it on a reload or a new page.
 *
 * Safety: bot text is never parsed as HTML. It is split into text nodes and a short allow-list
 * of elements built here: **bold**, [label](https-or-tel-link), bare https links and the
 * Australian emergency and helpline numbers as tap-to-call links.
 */
(function () {
  "use strict";

  if (window.UpwellChat && window.UpwellChat.version) {
    return; // loaded twice: keep the first
  }

  var VERSION = "1.0.0";
  var ALERT_LEVELS = ["emergency", "crisis", "urgent"];
  var STORE_VERSION = 1;
  var MAX_STORED_MESSAGES = 200;
  var REPLY_TIMEOUT_MS = 20000;
  // The server reads a message of up to this many characters whole (channels/settings.py
  // MAX_MESSAGE_CHARS; a test keeps the two equal). Longer ones stay in the box with a plain
  // "please split it": nothing is cut off silently.
  var MAX_MESSAGE_CHARS = 10000;
  var COUNTER_FROM = 0.9; // show "N characters left" from 90% of the limit
  var currentScript = document.currentScript;

  var DEFAULTS = {
    socketUrl: "",
    socketPath: "/socket.io/",
    title: "Knee pain helper",
    subtitle: "Upwell Health Collective",
    initPayload: "/greet",
    clinicPhone: "",
    clinicName: "the clinic",
    storage: "session", // "session": forgotten when the tab closes; "local": kept 24 hours
    localHistoryHours: 24,
    transports: null, // socket.io's default; ["websocket"] behind several workers, no sticky sessions
    launcherLabel: "Chat about knee pain",
    inputPlaceholder: "Type your message",
    openOnLoad: false,
    stylesheet: true,
  };

  // Numbers a patient may need to dial, shown as tap-to-call links wherever they appear.
  var PHONE_NUMBERS = [
    { pattern: "000", tel: "000", label: "Call 000" },
    { pattern: "13 11 14", tel: "131114", label: "Call Lifeline 13 11 14" },
    { pattern: "1800 022 222", tel: "1800022222", label: "Call healthdirect 1800 022 222" },
    { pattern: "131 450", tel: "131450", label: "Call TIS National 131 450" },
  ];
  var ALERT_HEADINGS = {
    emergency: "This needs help now",
    crisis: "Help is here, day or night",
    urgent: "Please get this checked soon",
  };
  // Fallback when a reply carries no explicit marker: an emergency number said with urgency.
  var ESCALATION_WORDS = /\b(now|straight away|right away|immediately|ambulance|emergency department)\b/i;

  // ---------------------------------------------------------------- configuration

  function scriptDataConfig(script) {
    if (!script || !script.dataset) return {};
    var d = script.dataset;
    var config = {};
    var map = {
      socketUrl: "socketUrl",
      socketPath: "socketPath",
      title: "title",
      subtitle: "subtitle",
      initPayload: "initPayload",
      clinicPhone: "clinicPhone",
      clinicName: "clinicName",
      storage: "storage",
      launcherLabel: "launcherLabel",
    };
    Object.keys(map).forEach(function (key) {
      if (d[map[key]] !== undefined) config[key] = d[map[key]];
    });
    if (d.openOnLoad !== undefined) config.openOnLoad = d.openOnLoad !== "false";
    if (d.transports) config.transports = d.transports.split(/[\s,]+/).filter(Boolean);
    return config;
  }

  function assetBase(script) {
    if (script && script.src) return script.src.replace(/[^/]*([?#].*)?$/, "");
    return "";
  }

  // ---------------------------------------------------------------- safe text rendering

  function safeHref(raw) {
    try {
      var url = new URL(raw, window.location.href);
      if (["http:", "https:", "tel:", "mailto:"].indexOf(url.protocol) === -1) return null;
      return url.href;
    } catch (e) {
      return null;
    }
  }

  function escapeRegExp(text) {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }

  // Whole numbers only ("000", not "1000" or "$2,000"). No look-behind: older Safari lacks it,
  // so the character before the number is matched as group 1 and written back as text.
  function phoneRegExp(phones, flags) {
    var numbers = phones
      .map(function (p) {
        return escapeRegExp(p.pattern).replace(/ /g, "\\s?");
      })
      .join("|");
    // not inside a bigger number ("$1,000", "1000"); a comma after it is punctuation ("131 450, any time")
    return new RegExp("(^|[^\\d,.$])(" + numbers + ")(?!\\d|,\\d)", flags);
  }

  function makeLink(href, label, className) {
    var a = document.createElement("a");
    a.href = href;
    a.textContent = label;
    if (className) a.className = className;
    if (/^https?:/.test(href)) {
      a.target = "_blank";
      a.rel = "noopener noreferrer";
    }
    return a;
  }

  // Appends `text` to `parent` as text nodes plus the allow-listed elements; never as HTML.
  function renderRichText(parent, text, phones) {
    var token = new RegExp(
      "\\*\\*([^*]+)\\*\\*" + // 1: bold
        "|\\[([^\\]]+)\\]\\(([^)\\s]+)\\)" + // 2, 3: [label](href)
        "|(https?:\\/\\/[^\\s<>()]+[^\\s<>().,;:!?'\"])" + // 4: bare link
        "|" + phoneRegExp(phones).source, // 5: the character before, 6: the number
      "g"
    );
    var last = 0;
    var match;
    function addText(value) {
      if (value) parent.appendChild(document.createTextNode(value));
    }
    while ((match = token.exec(text)) !== null) {
      addText(text.slice(last, match.index));
      if (match[1] !== undefined) {
        parent.appendChild(el("strong", { text: match[1] }));
      } else if (match[2] !== undefined) {
        var href = safeHref(match[3]);
        parent.appendChild(href ? makeLink(href, match[2]) : document.createTextNode(match[0]));
      } else if (match[4] !== undefined) {
        var bare = safeHref(match[4]);
        parent.appendChild(bare ? makeLink(bare, match[4]) : document.createTextNode(match[4]));
      } else if (match[6] !== undefined) {
        addText(match[5]);
        parent.appendChild(makeLink("tel:" + telFor(match[6], phones), match[6], "uc-tel"));
      }
      last = token.lastIndex;
    }
    addText(text.slice(last));
  }

  function digitsOf(number) {
    return String(number).replace(/[^\d+]/g, "");
  }

  function telFor(shown, phones) {
    var digits = digitsOf(shown);
    var known = phones.filter(function (p) {
      return digitsOf(p.tel) === digits;
    })[0];
    return known ? known.tel : digits;
  }

  // ---------------------------------------------------------------- alerts

  function alertLevel(message) {
    var custom = message.custom;
    if (custom && typeof custom === "object" && ALERT_LEVELS.indexOf(custom.alert) !== -1) {
      return custom.alert;
    }
    var text = message.text || "";
    if (!ESCALATION_WORDS.test(text)) return null;
    if (phoneRegExp([PHONE_NUMBERS[1]]).test(text)) return "crisis";
    if (phoneRegExp([PHONE_NUMBERS[0]]).test(text)) return "emergency";
    return null;
  }

  // The numbers an alert offers to dial: the bot's `call` first, then the level's, then any named.
  function callActions(message, level, phones) {
    var wanted = [];
    var custom = message.custom || {};
    if (custom.call) wanted.push(digitsOf(custom.call));
    if (level === "emergency") wanted.push("000");
    if (level === "crisis") wanted.push("131114", "000");
    phones.forEach(function (p) {
      if (phoneRegExp([p]).test(message.text || "")) wanted.push(digitsOf(p.tel));
    });
    var seen = {};
    return wanted
      .filter(function (tel) {
        if (!tel || seen[tel]) return false;
        seen[tel] = true;
        return true;
      })
      .map(function (tel) {
        var known = phones.filter(function (p) {
          return digitsOf(p.tel) === tel;
        })[0];
        return { tel: tel, label: known ? known.label : "Call " + tel };
      });
  }

  // ---------------------------------------------------------------- storage

  function pickStorage(kind) {
    try {
      var store = kind === "local" ? window.localStorage : window.sessionStorage;
      var probe = "__upwell_chat_probe__";
      store.setItem(probe, "1");
      store.removeItem(probe);
      return store;
    } catch (e) {
      return null; // private mode or blocked: the chat still works, without history
    }
  }

  function History(config) {
    this.store = pickStorage(config.storage);
    this.key = "upwell-chat:v" + STORE_VERSION + ":" + (config.socketUrl || window.location.origin);
    this.maxAgeMs = config.storage === "local" ? config.localHistoryHours * 3600 * 1000 : Infinity;
    this.state = this.load();
  }

  History.prototype.empty = function () {
    return { sessionId: null, messages: [], greeted: false, open: false, updated: Date.now() };
  };

  History.prototype.load = function () {
    if (!this.store) return this.empty();
    try {
      var state = JSON.parse(this.store.getItem(this.key) || "null");
      if (!state || !Array.isArray(state.messages)) return this.empty();
      if (Date.now() - (state.updated || 0) > this.maxAgeMs) return this.empty();
      return state;
    } catch (e) {
      return this.empty();
    }
  };

  History.prototype.save = function () {
    if (!this.store) return;
    this.state.updated = Date.now();
    this.state.messages = this.state.messages.slice(-MAX_STORED_MESSAGES);
    try {
      this.store.setItem(this.key, JSON.stringify(this.state));
    } catch (e) {
      /* storage full: keep going without saving */
    }
  };

  History.prototype.clear = function () {
    this.state = this.empty();
    if (this.store) this.store.removeItem(this.key);
  };

  // ---------------------------------------------------------------- DOM helpers

  var idCounter = 0;
  function uid(prefix) {
    idCounter += 1;
    return prefix + "-" + idCounter;
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === null || value === undefined || value === false) return;
      if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else node.setAttribute(name, value === true ? "" : value);
    });
    (children || []).forEach(function (child) {
      if (child) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function svg(pathData, size) {
    var ns = "http://www.w3.org/2000/svg";
    var icon = document.createElementNS(ns, "svg");
    icon.setAttribute("viewBox", "0 0 24 24");
    icon.setAttribute("width", size || 20);
    icon.setAttribute("height", size || 20);
    icon.setAttribute("aria-hidden", "true");
    icon.setAttribute("focusable", "false");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", pathData);
    path.setAttribute("fill", "currentColor");
    icon.appendChild(path);
    return icon;
  }

  var ICONS = {
    chat: "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01z",
    close: "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12 19 17.6 17.6 19 12 13.4 6.4 19 5 17.6 10.6 12 5 6.4z",
    send: "M3 20.5 21.5 12 3 3.5v6.6l12 1.9-12 1.9z",
    phone: "M6.6 10.8a15.1 15.1 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25 11.4 11.4 0 0 0 3.6.57 1 1 0 0 1 1 1V20a1 1 0 0 1-1 1A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.57a1 1 0 0 1-.25 1z",
    alert: "M12 2 1 21h22L12 2zm1 15h-2v2h2v-2zm0-7h-2v5h2v-5z",
    heart: "M12 21s-7.5-4.6-9.6-9.3C.9 8.3 3 4.5 6.6 4.5c2 0 3.6 1.1 4.4 2.6.8-1.5 2.4-2.6 4.4-2.6 3.6 0 5.7 3.8 4.2 7.2C19.5 16.4 12 21 12 21z",
  };

  // ---------------------------------------------------------------- the widget

  function Widget(config) {
    this.config = config;
    this.history = new History(config);
    this.phones = PHONE_NUMBERS.slice();
    if (config.clinicPhone) {
      this.phones.push({
        pattern: config.clinicPhone,
        tel: digitsOf(config.clinicPhone),
        label: "Call " + config.clinicName,
      });
    }
    this.socket = null;
    this.sessionConfirmed = false;
    this.pending = [];
    this.replyTimer = null;
    this.replyStart = null; // the first bot message since the patient last wrote
    this.build();
  }

  Widget.prototype.build = function () {
    var self = this;
    var cfg = this.config;
    var panelId = uid("uc-panel");
    var titleId = uid("uc-title");
    var inputId = uid("uc-input");
    var hintId = uid("uc-hint");

    this.launcher = el(
      "button",
      { type: "button", className: "uc-launcher", "aria-expanded": "false", "aria-controls": panelId },
      [svg(ICONS.chat, 22), el("span", { className: "uc-launcher-label", text: cfg.launcherLabel })]
    );

    this.closeButton = el("button", { type: "button", className: "uc-close", "aria-label": "Close chat" }, [
      svg(ICONS.close, 22),
    ]);

    var header = el("div", { className: "uc-header" }, [
      el("div", { className: "uc-header-text" }, [
        el("h2", { id: titleId, className: "uc-title", text: cfg.title }),
        el("p", { className: "uc-subtitle" }, [
          el("span", { text: cfg.subtitle }),
          el("span", { className: "uc-bot-note", text: "A chatbot, not a person" }),
        ]),
      ]),
      this.closeButton,
    ]);

    var emergencyLine = el("p", { className: "uc-emergency" }, [
      svg(ICONS.alert, 16),
      el("span", {}, ["Not for emergencies: call ", makeLink("tel:000", "000", "uc-tel")]),
    ]);

    this.log = el("div", {
      className: "uc-log",
      role: "log",
      "aria-live": "polite",
      "aria-relevant": "additions",
      "aria-label": "Conversation",
      tabindex: "0",
    });

    this.typing = el("div", { className: "uc-typing", hidden: true }, [
      el("span", { className: "uc-dot", "aria-hidden": "true" }),
      el("span", { className: "uc-dot", "aria-hidden": "true" }),
      el("span", { className: "uc-dot", "aria-hidden": "true" }),
      el("span", { className: "uc-visually-hidden", text: "The assistant is typing" }),
    ]);

    this.status = el("p", { className: "uc-status", role: "status" });

    this.input = el("textarea", {
      id: inputId,
      className: "uc-input",
      rows: "1",
      placeholder: cfg.inputPlaceholder,
      autocomplete: "off",
      "aria-describedby": hintId,
    });
    this.sendButton = el("button", { type: "submit", className: "uc-send", "aria-label": "Send" }, [
      svg(ICONS.send, 22),
    ]);
    this.form = el("form", { className: "uc-composer", novalidate: true }, [
      el("label", { for: inputId, className: "uc-visually-hidden", text: "Your message" }),
      this.input,
      this.sendButton,
    ]);
    var hint = el("p", { id: hintId, className: "uc-visually-hidden", text: "Press Enter to send." });

    this.clearButton = el("button", { type: "button", className: "uc-link-button", text: "Clear chat" });
    var footerParts = [];
    if (cfg.clinicPhone) {
      footerParts.push(
        el("span", {}, [
          "Prefer to talk? Call ",
          makeLink("tel:" + digitsOf(cfg.clinicPhone), cfg.clinicPhone, "uc-tel"),
        ])
      );
    }
    footerParts.push(this.clearButton);
    var footer = el("div", { className: "uc-footer" }, footerParts);

    this.panel = el(
      "section",
      { id: panelId, className: "uc-panel", role: "dialog", "aria-modal": "false", "aria-labelledby": titleId, hidden: true },
      [header, emergencyLine, this.log, this.typing, this.status, this.form, hint, footer]
    );

    this.root = el("div", { className: "upwell-chat", "data-state": "closed" }, [this.panel, this.launcher]);

    // History goes in before the log is in the page, so screen readers do not read it all again.
    this.renderHistory();

    this.launcher.addEventListener("click", function () {
      self.open(true);
    });
    this.closeButton.addEventListener("click", function () {
      self.close();
    });
    this.root.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && self.isOpen()) {
        event.preventDefault();
        self.close();
      }
    });
    this.form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.sendTyped();
    });
    this.input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        self.sendTyped();
      }
    });
    this.input.addEventListener("input", function () {
      self.fitInput();
      self.showLength();
    });
    this.clearButton.addEventListener("click", function () {
      self.clearConversation();
    });
    // Any element on the host page with data-upwell-chat-open opens the chat.
    document.addEventListener("click", function (event) {
      var opener = event.target.closest && event.target.closest("[data-upwell-chat-open]");
      if (opener) {
        event.preventDefault();
        self.open(true);
      }
    });

    document.body.appendChild(this.root);

    if (this.history.state.open || cfg.openOnLoad) this.open(false);
  };

  Widget.prototype.isOpen = function () {
    return !this.panel.hidden;
  };

  Widget.prototype.open = function (moveFocus) {
    this.panel.hidden = false;
    this.root.setAttribute("data-state", "open");
    this.launcher.setAttribute("aria-expanded", "true");
    this.history.state.open = true;
    this.history.save();
    this.connect();
    this.scrollToEnd(false);
    if (moveFocus) this.input.focus();
  };

  Widget.prototype.close = function () {
    this.panel.hidden = true;
    this.root.setAttribute("data-state", "closed");
    this.launcher.setAttribute("aria-expanded", "false");
    this.history.state.open = false;
    this.history.save();
    this.launcher.focus();
  };

  Widget.prototype.fitInput = function () {
    this.input.style.height = "auto";
    this.input.style.height = Math.min(this.input.scrollHeight, 120) + "px";
  };

  // ------------------------------------------------------------ socket

  Widget.prototype.connect = function () {
    var self = this;
    if (this.socket) return;
    if (typeof window.io !== "function") {
      this.setStatus("The chat could not load. Please refresh the page.");
      return;
    }
    this.setStatus("Connecting\u2026");
    // By default socket.io's order: HTTP long-polling first (works through any proxy), then an
    // upgrade to a websocket. Several Rasa workers without sticky sessions need
    // transports: ["websocket"], so that one socket never spans two workers.
    var options = { path: this.config.socketPath, reconnectionDelayMax: 10000 };
    if (Array.isArray(this.config.transports)) options.transports = this.config.transports;
    var socket = window.io(this.config.socketUrl || undefined, options);
    this.socket = socket;

    socket.on("connect", function () {
      self.sessionConfirmed = false;
      socket.emit("session_request", { session_id: self.history.state.sessionId });
    });
    socket.on("session_confirm", function (data) {
      var sessionId = typeof data === "string" ? data : data && data.session_id;
      if (!sessionId) return;
      self.history.state.sessionId = sessionId;
      self.history.save();
      self.sessionConfirmed = true;
      self.setStatus("");
      if (!self.history.state.greeted && self.config.initPayload) {
        self.history.state.greeted = true;
        self.history.save();
        self.emitMessage(self.config.initPayload);
      }
      self.flushPending();
    });
    socket.on("bot_uttered", function (message) {
      self.receive(message);
    });
    socket.on("disconnect", function (reason) {
      self.sessionConfirmed = false;
      if (reason !== "io client disconnect") self.setStatus("Connection lost. Trying again\u2026");
    });
    socket.on("connect_error", function () {
      self.setStatus("Can't reach the chat right now. Trying again\u2026");
    });
  };

  Widget.prototype.emitMessage = function (text) {
    if (!this.socket || !this.sessionConfirmed) {
      this.pending.push(text);
      return;
    }
    this.socket.emit("user_uttered", { message: text, session_id: this.history.state.sessionId });
    this.showTyping();
  };

  Widget.prototype.flushPending = function () {
    var queued = this.pending;
    this.pending = [];
    for (var i = 0; i < queued.length; i += 1) this.emitMessage(queued[i]);
  };

  // ------------------------------------------------------------ conversation

  Widget.prototype.sendTyped = function () {
    var text = this.input.value.trim();
    if (!text) return;
    if (text.length > MAX_MESSAGE_CHARS) {
      // Kept in the box, whole: the person splits it, nothing is lost.
      this.setStatus(tooLong(text.length));
      return;
    }
    this.input.value = "";
    this.fitInput();
    this.showLength();
    this.sendUser(text, text);
  };

  function tooLong(length) {
    return "That's too long to send in one go (" + length.toLocaleString("en-AU") + " of " +
      MAX_MESSAGE_CHARS.toLocaleString("en-AU") + " characters). Please split it into shorter messages.";
  }

  // A counter near the limit, and a plain warning over it.
  Widget.prototype.showLength = function () {
    var length = this.input.value.trim().length;
    if (length > MAX_MESSAGE_CHARS) {
      this.setStatus(tooLong(length));
      this.lengthShown = true;
    } else if (length >= MAX_MESSAGE_CHARS * COUNTER_FROM) {
      this.setStatus((MAX_MESSAGE_CHARS - length).toLocaleString("en-AU") + " characters left.");
      this.lengthShown = true;
    } else if (this.lengthShown) {
      this.setStatus("");
      this.lengthShown = false;
    }
  };

  // Shows `shown` as the user's message and sends `payload` (a button's payload, or the text).
  Widget.prototype.sendUser = function (shown, payload) {
    this.removeQuickReplies();
    this.replyStart = null;
    var message = { from: "user", text: shown };
    this.history.state.messages.push(message);
    this.history.save();
    this.log.appendChild(this.renderMessage(message));
    this.scrollToEnd(true);
    this.connect();
    this.emitMessage(payload);
  };

  Widget.prototype.receive = function (data) {
    if (!data || typeof data !== "object") return;
    var text = typeof data.text === "string" ? data.text : "";
    var quickReplies = Array.isArray(data.quick_replies)
      ? data.quick_replies
      : Array.isArray(data.buttons)
      ? data.buttons
      : [];
    var image = data.attachment && data.attachment.type === "image" && data.attachment.payload
      ? data.attachment.payload.src
      : null;
    if (!text && !quickReplies.length && !image) return;

    var custom = data.custom && typeof data.custom === "object" ? data.custom : null;
    var message = {
      from: "bot",
      text: text,
      quickReplies: quickReplies
        .filter(function (q) {
          return q && typeof q.title === "string" && typeof q.payload === "string";
        })
        .map(function (q) {
          return { title: q.title, payload: q.payload };
        }),
      custom: custom ? { alert: custom.alert, call: custom.call } : null,
      image: image,
    };
    message.alert = alertLevel(message);

    this.hideTyping();
    this.removeQuickReplies();
    this.history.state.messages.push(message);
    this.history.save();
    var row = this.renderMessage(message);
    this.log.appendChild(row);
    if (message.quickReplies.length) this.log.appendChild(this.renderQuickReplies(message.quickReplies));
    // Keep the start of the bot's answer in view (a long reply or many buttons would push it
    // out of sight), and an alert from its heading down.
    if (!this.replyStart || message.alert) this.replyStart = row;
    this.scrollToEnd(true, this.replyStart);
  };

  Widget.prototype.renderHistory = function () {
    var messages = this.history.state.messages;
    this.log.textContent = "";
    for (var i = 0; i < messages.length; i += 1) this.log.appendChild(this.renderMessage(messages[i]));
    var last = messages[messages.length - 1];
    if (last && last.from === "bot" && last.quickReplies && last.quickReplies.length) {
      this.log.appendChild(this.renderQuickReplies(last.quickReplies));
    }
  };

  Widget.prototype.renderMessage = function (message) {
    var isBot = message.from === "bot";
    var row = el("div", { className: "uc-row " + (isBot ? "uc-row--bot" : "uc-row--user") });
    var speaker = el("span", { className: "uc-visually-hidden", text: isBot ? "Assistant: " : "You: " });

    if (isBot && message.alert) return this.renderAlert(row, message);

    var bubble = el("div", { className: "uc-bubble " + (isBot ? "uc-bubble--bot" : "uc-bubble--user") });
    bubble.appendChild(speaker);
    if (isBot) renderRichText(bubble, message.text || "", this.phones);
    else bubble.appendChild(document.createTextNode(message.text || ""));
    if (message.image && safeHref(message.image) && /^https:/.test(message.image)) {
      bubble.appendChild(el("img", { className: "uc-image", src: message.image, alt: "Picture from the assistant" }));
    }
    row.appendChild(bubble);
    return row;
  };

  Widget.prototype.renderAlert = function (row, message) {
    var level = message.alert;
    var card = el("div", { className: "uc-alert uc-alert--" + level });
    var heading = el("p", { className: "uc-alert-heading" }, [
      svg(level === "crisis" ? ICONS.heart : ICONS.alert, 20),
      el("span", { className: "uc-visually-hidden", text: "Assistant, important: " }),
      el("strong", { text: ALERT_HEADINGS[level] }),
    ]);
    var body = el("p", { className: "uc-alert-text" });
    renderRichText(body, message.text || "", this.phones);
    var actions = el("div", { className: "uc-call-actions" });
    callActions(message, level, this.phones).forEach(function (action, index) {
      var link = makeLink("tel:" + action.tel, "", "uc-call" + (index === 0 ? " uc-call--primary" : ""));
      link.appendChild(svg(ICONS.phone, 18));
      link.appendChild(document.createTextNode(" " + action.label));
      actions.appendChild(link);
    });
    card.appendChild(heading);
    card.appendChild(body);
    if (actions.childNodes.length) card.appendChild(actions);
    row.classList.add("uc-row--alert");
    row.appendChild(card);
    return row;
  };

  Widget.prototype.renderQuickReplies = function (quickReplies) {
    var self = this;
    var group = el("div", { className: "uc-quick-replies", role: "group", "aria-label": "Suggested replies" });
    quickReplies.forEach(function (reply) {
      var button = el("button", { type: "button", className: "uc-quick-reply", text: reply.title });
      button.addEventListener("click", function () {
        self.sendUser(reply.title, reply.payload);
        self.input.focus(); // the buttons are gone: keep keyboard users in the conversation
      });
      group.appendChild(button);
    });
    this.quickReplies = group;
    return group;
  };

  Widget.prototype.removeQuickReplies = function () {
    if (this.quickReplies && this.quickReplies.parentNode) {
      this.quickReplies.parentNode.removeChild(this.quickReplies);
    }
    this.quickReplies = null;
  };

  Widget.prototype.clearConversation = function () {
    this.history.clear();
    this.log.textContent = "";
    this.quickReplies = null;
    this.replyStart = null;
    this.hideTyping();
    if (this.socket) {
      this.socket.disconnect();
      this.socket = null;
    }
    this.history.state.open = true;
    this.history.save();
    this.setStatus("Chat cleared.");
    this.connect();
    this.input.focus();
  };

  Widget.prototype.showTyping = function () {
    var self = this;
    this.typing.hidden = false;
    this.scrollToEnd(true);
    clearTimeout(this.replyTimer);
    this.replyTimer = setTimeout(function () {
      self.hideTyping();
      self.setStatus("No reply yet. Please try again, or call " + self.config.clinicName + ".");
    }, REPLY_TIMEOUT_MS);
  };

  Widget.prototype.hideTyping = function () {
    clearTimeout(this.replyTimer);
    this.typing.hidden = true;
  };

  Widget.prototype.setStatus = function (text) {
    this.status.textContent = text;
    this.status.hidden = !text;
  };

  // Scrolls to the newest message, or to the top of `anchor` if that would hide its top.
  Widget.prototype.scrollToEnd = function (smooth, anchor) {
    var log = this.log;
    var reduce = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    window.requestAnimationFrame(function () {
      var top = log.scrollHeight;
      if (anchor) top = Math.min(top, anchor.offsetTop - 12);
      log.scrollTo({ top: top, behavior: smooth && !reduce ? "smooth" : "auto" });
    });
  };

  // ---------------------------------------------------------------- start-up

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = src;
      script.async = true;
      script.onload = resolve;
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  function loadStylesheet(href) {
    return new Promise(function (resolve) {
      var link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = href;
      link.onload = resolve;
      link.onerror = resolve; // unstyled beats absent
      document.head.appendChild(link);
    });
  }

  var instance = null;

  function init(options) {
    if (instance) return instance;
    var config = {};
    var sources = [DEFAULTS, scriptDataConfig(currentScript), window.UpwellChatConfig || {}, options || {}];
    sources.forEach(function (source) {
      Object.keys(source).forEach(function (key) {
        config[key] = source[key];
      });
    });
    var base = config.assetBase || assetBase(currentScript);
    var ready = [];
    if (config.stylesheet) ready.push(loadStylesheet(base + "upwell-chat.css"));
    if (typeof window.io !== "function") ready.push(loadScript(base + "vendor/socket.io.min.js"));
    instance = Promise.all(ready)
      .catch(function () {
        /* the widget reports a missing client when it tries to connect */
      })
      .then(function () {
        var widget = new Widget(config);
        window.UpwellChat.widget = widget;
        return widget;
      });
    return instance;
  }

  window.UpwellChat = {
    version: VERSION,
    init: init,
    // Exposed for tests and for pages that want to reuse the same rules.
    _alertLevel: alertLevel,
  };

  if (window.UpwellChatConfig || (currentScript && currentScript.dataset.socketUrl !== undefined)) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", function () {
        init();
      });
    } else {
      init();
    }
  }
})();
