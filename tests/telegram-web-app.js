// A stand-in for https://telegram.org/js/telegram-web-app.js, served to the page by the
// browser tests (tests/browser.py, through Playwright's page.route): what a Mini App finds
// in Telegram, for one person. The tests prepend `window.__telegramStandIn = {...};` with
// the signed initData, the user, the theme and the colour scheme; every call the page makes
// is recorded in window.__telegramCalls, so a test can see what the page asked Telegram for.
(function () {
  "use strict";
  var given = window.__telegramStandIn || {};
  var calls = [];
  window.__telegramCalls = calls;

  function record(name, args) {
    calls.push({ name: name, args: Array.prototype.slice.call(args || []) });
  }

  function parsed(initData) {
    var unsafe = {};
    new URLSearchParams(initData || "").forEach(function (value, key) {
      if (key === "user" || key === "receiver" || key === "chat") {
        try {
          unsafe[key] = JSON.parse(value);
        } catch (e) {
          unsafe[key] = value;
        }
      } else if (key === "auth_date") {
        unsafe[key] = parseInt(value, 10);
      } else {
        unsafe[key] = value;
      }
    });
    return unsafe;
  }

  function button(name) {
    var handlers = [];
    var self = {
      text: "",
      color: "#2481cc",
      textColor: "#ffffff",
      isVisible: false,
      isActive: true,
      isProgressVisible: false,
      setText: function (text) {
        record(name + ".setText", arguments);
        self.text = String(text);
        return self;
      },
      setParams: function (params) {
        record(name + ".setParams", arguments);
        Object.assign(self, params || {});
        return self;
      },
      show: function () {
        record(name + ".show", arguments);
        self.isVisible = true;
        return self;
      },
      hide: function () {
        record(name + ".hide", arguments);
        self.isVisible = false;
        return self;
      },
      enable: function () {
        self.isActive = true;
        return self;
      },
      disable: function () {
        self.isActive = false;
        return self;
      },
      showProgress: function () {
        self.isProgressVisible = true;
        return self;
      },
      hideProgress: function () {
        self.isProgressVisible = false;
        return self;
      },
      onClick: function (handler) {
        handlers.push(handler);
        return self;
      },
      offClick: function (handler) {
        var at = handlers.indexOf(handler);
        if (at >= 0) handlers.splice(at, 1);
        return self;
      },
      // For a test: as if the person pressed it.
      press: function () {
        handlers.slice().forEach(function (handler) {
          handler();
        });
      },
    };
    return self;
  }

  var events = {};
  var initData = given.initData || "";
  var themeParams = given.themeParams || {
    bg_color: "#ffffff",
    text_color: "#000000",
    hint_color: "#999999",
    link_color: "#2481cc",
    button_color: "#2481cc",
    button_text_color: "#ffffff",
    secondary_bg_color: "#f1f1f1",
  };

  var WebApp = {
    initData: initData,
    initDataUnsafe: parsed(initData),
    version: "8.0",
    platform: "tdesktop",
    colorScheme: given.colorScheme || "light",
    themeParams: themeParams,
    isExpanded: false,
    viewportHeight: window.innerHeight,
    viewportStableHeight: window.innerHeight,
    headerColor: themeParams.bg_color,
    backgroundColor: themeParams.bg_color,
    isClosingConfirmationEnabled: false,
    MainButton: button("MainButton"),
    SecondaryButton: button("SecondaryButton"),
    BackButton: button("BackButton"),
    HapticFeedback: {
      impactOccurred: function () {
        record("HapticFeedback.impactOccurred", arguments);
      },
      notificationOccurred: function () {
        record("HapticFeedback.notificationOccurred", arguments);
      },
      selectionChanged: function () {
        record("HapticFeedback.selectionChanged", arguments);
      },
    },
    isVersionAtLeast: function () {
      return true;
    },
    ready: function () {
      record("ready", arguments);
    },
    expand: function () {
      record("expand", arguments);
      WebApp.isExpanded = true;
    },
    close: function () {
      record("close", arguments);
    },
    setHeaderColor: function () {
      record("setHeaderColor", arguments);
    },
    setBackgroundColor: function () {
      record("setBackgroundColor", arguments);
    },
    enableClosingConfirmation: function () {
      WebApp.isClosingConfirmationEnabled = true;
    },
    disableClosingConfirmation: function () {
      WebApp.isClosingConfirmationEnabled = false;
    },
    onEvent: function (name, handler) {
      (events[name] = events[name] || []).push(handler);
    },
    offEvent: function (name, handler) {
      var list = events[name] || [];
      var at = list.indexOf(handler);
      if (at >= 0) list.splice(at, 1);
    },
    sendData: function () {
      record("sendData", arguments);
    },
    openLink: function () {
      record("openLink", arguments);
    },
    openTelegramLink: function () {
      record("openTelegramLink", arguments);
    },
    showAlert: function (message, callback) {
      record("showAlert", arguments);
      if (callback) setTimeout(callback, 0);
    },
    showConfirm: function (message, callback) {
      record("showConfirm", arguments);
      // The person agrees unless the test said otherwise.
      var answer = given.confirm === undefined ? true : !!given.confirm;
      if (callback) setTimeout(function () { callback(answer); }, 0);
    },
    showPopup: function (params, callback) {
      record("showPopup", arguments);
      var buttons = (params && params.buttons) || [{ id: "" }];
      if (callback) setTimeout(function () { callback(buttons[0].id || ""); }, 0);
    },
    // For a test: fire one of Telegram's events (themeChanged, viewportChanged, …).
    emit: function (name, payload) {
      (events[name] || []).slice().forEach(function (handler) {
        handler.call(WebApp, payload);
      });
    },
  };

  window.Telegram = window.Telegram || {};
  window.Telegram.WebApp = WebApp;
  window.Telegram.WebView = { initParams: {}, postEvent: function () {} };
})();
