// The supervisor's desk: plain JS, no build step, no library. Every figure comes from the
// bot's API (computed there); everything from outside — names, logins, Allpay's words — is
// inserted as text (textContent), never as HTML. Launch data goes in the Authorization header
// of each call, never in a URL or a cookie.
"use strict";
(function () {
  var REFRESH_MS = 4000;
  var CALL_TIMEOUT_MS = 15000;  // a call still unanswered then: the page says it is out of date
  var tg = window.Telegram && window.Telegram.WebApp;
  var state = { tab: "today", texts: {}, me: null, day: null, last: {}, updated: null,
    timer: null, closed: false, detail: null, findQuery: null };

  function initData() {
    if (tg && tg.initData) return tg.initData;
    // Without Telegram's script (the demo offline): the launch data is in the fragment.
    var hash = (location.hash || "").replace(/^#/, "");
    var params = new URLSearchParams(hash);
    return params.get("tgWebAppData") || "";
  }

  function t(key, values) {
    var text = state.texts[key] || key;
    if (values) {
      Object.keys(values).forEach(function (name) {
        text = text.split("{" + name + "}").join(String(values[name]));
      });
    }
    return text;
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === null || value === undefined || value === false) return;
      if (name === "text") node.textContent = value;
      else if (name === "class") node.className = value;
      else if (name === "testid") node.setAttribute("data-testid", value);
      else if (name === "onclick") node.addEventListener("click", value);
      else node.setAttribute(name, value === true ? "" : value);
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) node.appendChild(child);
    });
    return node;
  }

  var SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Money arrives as decimal strings ("12345.50"): grouped for reading, never computed on.
  function money(text) {
    if (text === null || text === undefined) return "—";
    var negative = text.charAt(0) === "-";
    var parts = text.replace("-", "").split(".");
    var whole = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, "\u00a0");
    var cents = parts[1] && parts[1] !== "00" ? "," + parts[1] : "";
    return (negative ? "−" : "") + whole + cents + "\u00a0₸";
  }

  function clock(iso, withDate) {
    if (!iso) return "—";
    var options = { hour: "2-digit", minute: "2-digit", hour12: false };
    if (withDate) { options.day = "2-digit"; options.month = "2-digit"; }
    if (state.me && state.me.timezone) options.timeZone = state.me.timezone;
    try {
      return new Intl.DateTimeFormat(state.me ? state.me.locale : "ru", options).format(new Date(iso));
    } catch (e) {
      return iso.slice(11, 16);
    }
  }

  function notice(text) {
    var box = document.getElementById("notice");
    box.textContent = text;
    box.hidden = false;
    clearTimeout(notice.timer);
    notice.timer = setTimeout(function () { box.hidden = true; }, 3500);
  }

  function refuse(reason, message) {
    state.closed = true;
    clearInterval(state.timer);
    document.querySelector("main").hidden = true;
    document.querySelector("nav").hidden = true;
    document.getElementById("stale").hidden = true;
    var box = document.getElementById("reopen");
    box.textContent = message || (reason === "forbidden" ? t("forbidden") : t("reopen"));
    box.setAttribute("data-reason", reason);
    box.hidden = false;
  }

  function stale(on) {
    var banner = document.getElementById("stale");
    if (!on) { banner.hidden = true; return; }
    banner.textContent = t("stale", { time: state.updated ? clock(state.updated.toISOString()) : "—" });
    banner.hidden = false;
  }

  // One call: JSON back, or null when refused (the page then asks to reopen) or unreachable.
  function api(path, options) {
    options = options || {};
    var headers = { "Authorization": "tma " + initData() };
    if (options.body) headers["Content-Type"] = "application/json";
    // A call that hangs (no proxy in front to end it) shows the page as out of date.
    var abort = new AbortController();
    var timer = setTimeout(function () { abort.abort(); }, CALL_TIMEOUT_MS);
    return fetch("api/" + path, {
      method: options.method || "GET",
      headers: headers,
      body: options.body ? JSON.stringify(options.body) : undefined,
      credentials: "omit",
      cache: "no-store",
      signal: abort.signal
    }).finally(function () {
      clearTimeout(timer);
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.status === 401 || response.status === 403) {
          refuse(body.error || "reopen", body.message);
          return null;
        }
        if (response.status >= 500) {  // the bot (or the proxy before it) is not answering
          stale(true);
          return null;
        }
        state.updated = new Date();
        stale(false);
        body.httpStatus = response.status;
        return body;
      });
    }, function () {
      stale(true);
      return null;
    });
  }

  // ------------------------------------------------------------ Today

  function tile(label, value, testid) {
    return el("div", { class: "tile" }, [
      el("div", { class: "label", text: label }),
      el("div", { class: "value", text: value, testid: testid })
    ]);
  }

  function chart(hourly, average) {
    var width = 336, height = 150, top = 8, bottom = 18, left = 4;
    var plot = height - top - bottom;
    var peak = 1;
    hourly.forEach(function (n) { peak = Math.max(peak, n); });
    average.forEach(function (a) { peak = Math.max(peak, Number(a)); });
    var step = (width - left) / 24;
    var root = svg("svg", { viewBox: "0 0 " + width + " " + height, class: "chart",
      "data-testid": "hourly-chart", role: "img", "aria-label": t("per_hour") });
    hourly.forEach(function (n, hour) {
      var h = plot * n / peak;
      var bar = svg("rect", { class: "today", x: (left + hour * step + 1).toFixed(1),
        y: (top + plot - h).toFixed(1), width: (step - 2).toFixed(1), height: h.toFixed(1),
        rx: 1.5, "data-hour": hour, "data-count": n });
      bar.appendChild(svg("title", {}, hour + ":00 — " + n));
      root.appendChild(bar);
    });
    var points = average.map(function (a, hour) {
      return (left + hour * step + step / 2).toFixed(1) + "," +
        (top + plot - plot * Number(a) / peak).toFixed(1);
    });
    root.appendChild(svg("polyline", { class: "avg", points: points.join(" "),
      "data-testid": "hourly-average" }));
    [0, 6, 12, 18, 23].forEach(function (hour) {
      root.appendChild(svg("text", { class: "axis", x: (left + hour * step).toFixed(1),
        y: height - 4 }, String(hour)));
    });
    return root;
  }

  function renderToday(data) {
    var s = data.by_status;
    var pending = (s.pending.count || 0) + (s["new"].count || 0);
    var peak = 0;
    data.cashiers.forEach(function (c) { peak = Math.max(peak, Number(c.completed.amount)); });
    return [
      el("div", { class: "tiles" }, [
        tile(t("top_ups"), String(data.count), "today-count"),
        tile(t("sum"), money(data.amount), "today-sum"),
        tile(t("cash_accepted"), money(data.cash_accepted), "today-cash"),
        tile(t("fees"), money(data.fees), "today-fees")
      ]),
      el("div", { class: "statuses" }, [
        tile("✅ " + t("status_completed"), String(s.completed.count), "status-completed"),
        tile("⏳ " + t("status_pending"), String(pending), "status-pending"),
        tile("❌ " + t("status_declined"), String(s.declined.count), "status-declined")
      ]),
      s.unknown.count ? el("p", { class: "hint", testid: "status-unknown",
        text: "⚠️ " + t("status_unknown") + ": " + s.unknown.count }) : null,
      el("h2", { text: t("per_hour") }),
      chart(data.hourly, data.hourly_average),
      el("div", { class: "legend" }, [
        el("span", { class: "sw" }), el("span", { text: t("legend_day") + "   " }),
        el("span", { class: "sw avg" }), el("span", { text: " " + t("legend_average") })
      ]),
      el("h2", { text: t("per_cashier") }),
      data.cashiers.length ? el("div", { class: "bars" }, data.cashiers.map(function (c) {
        var share = peak > 0 ? Math.round(100 * Number(c.completed.amount) / peak) : 0;
        var fill = el("div", { class: "fill" });
        fill.style.width = share + "%";
        return el("div", { class: "bar", testid: "cashier-" + c.id }, [
          el("div", { class: "line card-line" }, [
            el("span", { text: c.name + " · " + c.count }),
            el("b", { text: " " + money(c.completed.amount) })
          ]),
          el("div", { class: "track" }, [fill])
        ]);
      })) : el("p", { class: "hint", text: t("nothing") }),
      el("div", { class: "actions" }, [el("button", { type: "button", class: "secondary",
        testid: "send-export", text: t("send_export"), onclick: function (event) {
          act(event.currentTarget, "export" + (state.day ? "?day=" + state.day : ""));
        } })])
    ];
  }

  // ------------------------------------------------------------ Now

  function paymentRow(p) {
    return el("div", { class: "row", testid: "payment-" + p.guid, "data-status": p.status,
      onclick: function () { openDetail(p.guid); } }, [
      el("span", { class: "icon", testid: "status-icon", text: p.icon }),
      el("div", { class: "main" }, [
        el("div", { text: p.client + " · " + p.login }),
        el("div", { class: "sub hint", text: p.cashier + " · " + clock(p.created, true) +
          (p.status === "pending" || p.status === "new" || p.status === "unknown"
            ? " · " + t("age", { minutes: Math.floor(p.age_seconds / 60) }) + " · " +
              t("attempts", { n: p.attempts }) : "") })
      ]),
      el("span", { class: "amount", text: money(p.amount) })
    ]);
  }

  function act(button, path, body, after) {
    button.disabled = true;
    api(path, { method: "POST", body: body || {} }).then(function (result) {
      button.disabled = false;
      if (!result) return;
      if (result.error) {
        notice(t("error_" + result.error) !== "error_" + result.error
          ? t("error_" + result.error) : result.error);
        return;
      }
      notice(t("done_" + result.outcome) !== "done_" + result.outcome
        ? t("done_" + result.outcome) : result.outcome);
      if (after) after(result);
      refresh(true);
    });
  }

  function reasons(card, approvalId) {
    var box = el("div", { class: "actions", testid: "reasons" },
      state.me.reasons.map(function (code) {
        return el("button", { type: "button", class: "secondary", testid: "reason-" + code,
          text: t("reason_" + code), onclick: function (event) {
            act(event.currentTarget, "approval/" + approvalId + "/reason", { code: code },
              function () { box.remove(); });
          } });
      }));
    card.appendChild(el("div", { class: "sub", text: t("reason_question") }));
    card.appendChild(box);
  }

  function approvalCard(a) {
    var card = el("div", { class: "card", testid: "approval-" + a.id }, [
      el("div", { class: "line" }, [
        el("b", { text: money(a.amount) }),
        el("span", { class: "sub", text: clock(a.created) + " → " + clock(a.expires) })
      ]),
      el("div", { text: a.client + " · " + a.login }),
      a.identified === false ? el("div", { class: "sub warn", testid: "not-identified",
        text: t("not_identified") }) : null,
      el("div", { class: "sub", text: t("cashier") + ": " + a.cashier +
        (a.fee !== "0.00" ? " · " + t("fee") + ": " + money(a.fee) : "") })
    ]);
    if (a.own) {
      card.appendChild(el("div", { class: "sub", testid: "own-request", text: t("own_request") }));
      return card;
    }
    card.appendChild(el("div", { class: "actions" }, [
      el("button", { type: "button", testid: "approve", text: t("approve"),
        onclick: function (event) { act(event.currentTarget, "approval/" + a.id + "/approve"); } }),
      el("button", { type: "button", class: "danger", testid: "reject", text: t("reject"),
        onclick: function (event) {
          act(event.currentTarget, "approval/" + a.id + "/reject", null, function (result) {
            if (result.outcome === "rejected") {
              state.pendingReason = a.id;
            }
          });
        } })
    ]));
    return card;
  }

  function handoverCard(h) {
    var card = el("div", { class: "card", testid: "handover-" + h.id }, [
      el("div", { class: "line" }, [
        el("b", { text: "#" + h.id + " " + h.cashier }),
        el("span", { text: money(h.declared === null ? h.expected : h.declared) })
      ]),
      el("div", { class: "sub", text: clock(h.created, true) })
    ]);
    if (!h.own && !h.for_someone_else) {
      var declared = money(h.declared === null ? h.expected : h.declared);
      card.appendChild(el("div", { class: "actions" }, [
        el("button", { type: "button", testid: "handover-confirm",
          text: t("received", { amount: declared }),
          onclick: function (event) { act(event.currentTarget, "handover/" + h.id + "/confirm"); } }),
        el("button", { type: "button", class: "danger", testid: "handover-dispute",
          text: t("not_received"),
          onclick: function (event) { act(event.currentTarget, "handover/" + h.id + "/dispute"); } }),
        el("button", { type: "button", class: "secondary", testid: "handover-other",
          text: t("another_amount"), onclick: function (event) {
            event.currentTarget.hidden = true;
            counted.hidden = false;
            amount.focus();
          } })
      ]));
      var amount = el("input", { type: "text", inputmode: "decimal", testid: "handover-amount",
        autocomplete: "off" });
      var go = el("button", { type: "button", testid: "handover-amount-go", disabled: true,
        text: t("received", { amount: "…" }), onclick: function (event) {
          act(event.currentTarget, "handover/" + h.id + "/confirm", { received: amount.value.trim() });
        } });
      amount.addEventListener("input", function () {
        go.disabled = !amount.value.trim();
        go.textContent = t("received", { amount: amount.value.trim() || "…" });
      });
      var counted = el("div", { class: "actions", hidden: true }, [amount, go]);
      card.appendChild(counted);
    }
    return card;
  }

  function section(title, testid, items) {
    return [el("h2", { text: title }), el("div", { testid: testid },
      items.length ? items : [el("p", { class: "hint", text: t("nothing") })])];
  }

  function renderNow(data) {
    var nodes = [];
    var reasonCard = null;
    if (state.pendingReason) {
      reasonCard = el("div", { class: "card", testid: "reason-card" });
      reasons(reasonCard, state.pendingReason);
      state.pendingReason = null;
      state.reasonCard = reasonCard;
    }
    if (state.reasonCard && state.reasonCard.querySelector("button")) nodes.push(state.reasonCard);
    nodes = nodes.concat(
      section(t("approvals"), "approvals", data.approvals.map(approvalCard)),
      section(t("unresolved") + (data.unresolved_count ? " · " + data.unresolved_count : ""),
        "unresolved", data.unresolved.map(paymentRow)),
      section(t("handovers"), "handovers", data.handovers.map(handoverCard)),
      section(t("cash_on_hand") + " · " + money(data.cash_total), "cash",
        data.cash.map(function (c) {
          return el("div", { class: "row", testid: "cash-" + c.cashier_id }, [
            el("div", { class: "main" }, [
              el("div", { text: c.cashier }),
              c.unresolved_count ? el("div", { class: "sub hint",
                text: t("unresolved_cash", { amount: money(c.unresolved) }) }) : null
            ]),
            el("span", { class: "amount", text: money(c.collected) })
          ]);
        }))
    );
    return nodes;
  }

  // ------------------------------------------------------------ Find

  function findForm() {
    var query = el("input", { type: "search", class: "wide", testid: "find-query",
      placeholder: t("search"), enterkeyhint: "search" });
    var status = el("select", { testid: "find-status" }, [el("option", { value: "", text: t("any_status") })]
      .concat(["completed", "pending", "new", "declined", "unknown"].map(function (s) {
        return el("option", { value: s, text: t("status_" + s) });
      })));
    var cashier = el("select", { testid: "find-cashier" }, [el("option", { value: "", text: t("any_cashier") })]);
    var results = el("div", { testid: "find-results" });
    function run() {
      state.findQuery = { q: query.value.trim(), status: status.value, cashier: cashier.value };
      refresh(true);
    }
    query.addEventListener("keydown", function (event) { if (event.key === "Enter") run(); });
    status.addEventListener("change", run);
    cashier.addEventListener("change", run);
    var form = el("div", { class: "filters" }, [query, status, cashier,
      el("button", { type: "button", class: "wide", testid: "find-go", text: t("find"), onclick: run })]);
    state.find = { results: results, cashier: cashier };
    return [form, results];
  }

  function findPath() {
    var q = state.findQuery || { q: "", status: "", cashier: "" };
    var params = new URLSearchParams();
    if (q.q) params.set("q", q.q);
    if (q.status) params.set("status", q.status);
    if (q.cashier) params.set("cashier", q.cashier);
    if (state.day) params.set("day", state.day);
    return "find?" + params.toString();
  }

  function renderFind(data) {
    var select = state.find.cashier;
    var known = {};
    Array.prototype.forEach.call(select.options, function (o) { known[o.value] = true; });
    data.payments.forEach(function (p) {
      if (!known[String(p.cashier_id)]) {
        known[String(p.cashier_id)] = true;
        select.appendChild(el("option", { value: String(p.cashier_id), text: p.cashier }));
      }
    });
    fill(state.find.results, data.payments.length ? data.payments.map(paymentRow)
      : [el("p", { class: "hint", text: t("nothing") })]);
  }

  function openDetail(guid) {
    state.detail = guid;
    show("find");
  }

  function renderDetail(p) {
    var send = el("button", { type: "button", testid: "send-receipt", text: t("send_receipt"),
      onclick: function (event) {
        act(event.currentTarget, "payment/" + encodeURIComponent(p.guid.replace(/[{}]/g, "")) + "/receipt");
      } });
    var facts = [
      [t("client"), p.client + " · " + p.login],
      [t("sum"), money(p.amount)],
      [t("fee"), money(p.fee)],
      [t("cashier"), p.cashier],
      [t("created"), clock(p.created, true)],
      ["GUID", p.guid]
    ];
    if (p.receipt_no) facts.push([t("receipt_no"), String(p.receipt_no)]);
    if (p.allpay_message) facts.push([t("allpay_says"), p.allpay_message]);
    var list = el("dl", {});
    facts.forEach(function (pair) {
      list.appendChild(el("dt", { text: pair[0] }));
      list.appendChild(el("dd", { text: pair[1] }));
    });
    return [el("div", { class: "card", testid: "payment-detail", "data-guid": p.guid }, [
      el("div", { class: "big", testid: "detail-status", text: p.icon + " " + t("status_" + p.status) }),
      list,
      el("div", { class: "actions" }, [
        p.status === "completed" ? send : null,
        el("button", { type: "button", class: "secondary", testid: "back", text: t("back"),
          onclick: function () { state.detail = null; show("find"); } })
      ])
    ])];
  }

  // ------------------------------------------------------------ Balance

  function renderBalance(data) {
    var nodes = [el("h2", { text: t("balance") })];
    if (data.answer === "known") {
      nodes.push(el("div", { class: "big", testid: "balance-amount",
        text: data.amount !== null ? money(data.amount) : data.raw }));
      nodes.push(el("div", { class: "hint", text: t("as_of", { time: clock(data.as_of, true) }) }));
      var forecast;
      if (data.amount !== null && data.amount.charAt(0) === "-" || data.amount === "0.00") {
        forecast = t("balance_out");
      } else if (data.runs_out) {
        forecast = t("lasts_until", { time: clock(data.runs_out, true) });
      } else {
        forecast = t("pace_unknown");
      }
      nodes.push(el("p", { testid: "balance-forecast", text: forecast }));
    } else {
      nodes.push(el("p", { testid: "balance-amount", text: t("balance_" + data.answer) }));
    }
    nodes.push(el("p", { class: "hint", text: t("spent_today") + ": " + money(data.spent_today) }));
    return nodes;
  }

  // ------------------------------------------------------------ screens

  function pathOf(tab) {
    var day = state.day ? "?day=" + state.day : "";
    if (tab === "today") return "today" + day;
    if (tab === "now") return "now";
    if (tab === "balance") return "balance";
    if (state.detail) return "payment/" + encodeURIComponent(state.detail.replace(/[{}]/g, ""));
    return findPath();
  }

  function fill(node, children) {
    node.replaceChildren.apply(node, children.filter(Boolean));
  }

  function render(tab, data) {
    var screen = document.getElementById("screen-" + tab);
    if (tab === "today") fill(screen, renderToday(data));
    else if (tab === "now") fill(screen, renderNow(data));
    else if (tab === "balance") fill(screen, renderBalance(data));
    else if (state.detail) fill(screen, renderDetail(data));
    else {
      if (!state.find || !screen.contains(state.find.results)) {
        fill(screen, findForm());
      }
      renderFind(data);
    }
  }

  // Fetch the screen shown; drawn again only when its figures changed.
  function refresh(force) {
    if (state.closed || (!force && document.hidden)) return Promise.resolve();
    if (!force && state.refreshing) return Promise.resolve();  // the last one still runs
    var tab = state.tab;
    var path = pathOf(tab);
    state.refreshing = true;
    return api(path).finally(function () {
      state.refreshing = false;
    }).then(function (data) {
      if (!data || state.tab !== tab || pathOf(tab) !== path) return;
      delete data.httpStatus;
      var key = JSON.stringify(data);
      if (!force && state.last[tab] === key) return;
      state.last[tab] = key;
      render(tab, data);
    });
  }

  function show(tab) {
    state.tab = tab;
    document.querySelectorAll("nav button").forEach(function (button) {
      if (button.getAttribute("data-tab") === tab) button.setAttribute("aria-current", "page");
      else button.removeAttribute("aria-current");
    });
    document.querySelectorAll("main section").forEach(function (screen) {
      screen.hidden = screen.id !== "screen-" + tab;
    });
    if (tab !== "find") state.detail = null;
    if (tg && tg.BackButton) {
      try { if (state.detail) tg.BackButton.show(); else tg.BackButton.hide(); } catch (e) { /* old */ }
    }
    document.getElementById("day").hidden = !(tab === "today" || tab === "find");
    refresh(true);
  }

  function start(me) {
    state.me = me;
    state.texts = me.texts;
    document.documentElement.lang = me.locale;
    document.title = t("title");
    document.getElementById("title").textContent = t("title");
    if (me.sandbox) {
      document.querySelector("header").after(el("div", { class: "sandbox", text: "🧪 " + t("sandbox") }));
    }
    var picker = document.getElementById("day");
    picker.max = me.today;
    picker.value = me.today;
    picker.addEventListener("change", function () {
      state.day = picker.value && picker.value !== me.today ? picker.value : null;
      state.last = {};
      refresh(true);
    });
    document.querySelectorAll("nav button").forEach(function (button) {
      var tab = button.getAttribute("data-tab");
      button.textContent = t("tab_" + tab);
      button.addEventListener("click", function () { show(tab); });
    });
    show("today");
    state.timer = setInterval(function () { refresh(false); }, REFRESH_MS);
    // A desk brought back to the screen catches up at once (none is asked for while hidden).
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) refresh(false);
    });
    if (tg && tg.BackButton) {
      tg.BackButton.onClick(function () { state.detail = null; show("find"); });
    }
  }

  function boot() {
    if (tg) {
      try { tg.ready(); tg.expand(); } catch (e) { /* an old client */ }
    }
    if (!initData()) {
      // Opened outside Telegram: no words came from the API yet, so all three languages.
      refuse("missing", "Откройте панель из бота в Telegram. · Панельді Telegram-дағы " +
        "боттан ашыңыз. · Open the desk from the bot in Telegram.");
      return;
    }
    api("me").then(function (me) {
      if (me) start(me);
      else if (!state.closed) setTimeout(boot, REFRESH_MS);
    });
  }

  boot();
})();
