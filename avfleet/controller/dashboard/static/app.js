// avfleet dashboard: login, logout, live updates (SSE), confirmed commands and ticket actions.
// No inline script anywhere (CSP script-src 'self'); every text comes from the page (the catalogue).
"use strict";

(function () {
  const body = document.body;
  const labels = JSON.parse(body.dataset.labels || "{}");
  const label = (group, value) => (labels[group] && labels[group][value]) || value;

  function csrf() {
    const m = document.cookie.match(/(?:^|;\s*)avfleet_csrf=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  async function call(method, path, payload, options) {
    const headers = { "X-CSRF-Token": csrf() };
    if (payload !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(path, { method, headers, credentials: "same-origin",
      body: payload === undefined ? undefined : JSON.stringify(payload) });
    if (res.status === 401 && !(options && options.noRedirect)) { window.location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search)); }
    let answer = null;
    try { answer = await res.json(); } catch (e) { answer = null; }
    if (!res.ok) {
      const err = new Error((answer && answer.detail) || res.statusText);
      err.status = res.status;
      throw err;
    }
    return answer;
  }

  // Links in tickets and e-mails name a device as /#device/AGENT/DEVICE (or /#agent/AGENT): the page's URL now.
  const legacy = location.pathname === "/" && location.hash.match(/^#(device|agent)\/([^/]+)(?:\/(.+))?$/);
  if (legacy) {
    location.replace(legacy[1] === "device" && legacy[3] ? "/d/" + legacy[2] + "/" + legacy[3] : "/devices?q=" + legacy[2]);
    return;
  }

  // --- login -----------------------------------------------------------------------------------
  const loginForm = document.getElementById("login-form");
  if (loginForm) {
    loginForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = document.getElementById("login-error");
      const button = loginForm.querySelector("button[type=submit]");
      error.textContent = "";
      button.disabled = true;
      try {
        await call("POST", "/api/v1/auth/login", { username: loginForm.username.value, password: loginForm.password.value },
          { noRedirect: true });
        // A fragment (an old /#device/... link) survives the redirect to /login: keep it for after.
        window.location.assign((loginForm.dataset.next || "/") + (location.hash || ""));
      } catch (e) {
        error.textContent = (labels.login && labels.login[String(e.status)]) || e.message;
        button.disabled = false;
        loginForm.password.select();
      }
    });
  }

  // --- logout ----------------------------------------------------------------------------------
  const logout = document.getElementById("logout");
  if (logout) {
    logout.addEventListener("click", async () => {
      try { await call("POST", "/api/v1/auth/logout"); } catch (e) { /* the session may be gone already */ }
      window.location.assign("/login");
    });
  }

  // --- live updates ----------------------------------------------------------------------------
  function stateOf(item) { return item.availability === "online" ? item.power : item.availability; }

  function showPower(el, item) {
    el.dataset.value = item.power;
    el.dataset.availability = item.availability;
    const shown = stateOf(item);
    let badge = el.querySelector(".badge");
    if (!badge) { badge = document.createElement("span"); el.replaceChildren(badge); }
    badge.className = "badge b-" + shown;
    badge.textContent = label("state", shown);
  }

  function addHistory(item) {
    // The device page's timeline gets a new transition on top (the server rendered the older ones):
    // only when the state differs from the top entry and is not older than it (the stream repeats).
    const list = document.querySelector('[data-testid="history"]');
    if (!list) return;
    const faults = item.faults || [];
    const key = [item.availability, item.power, faults.join(","), item.input || ""].join("|");
    const top = list.querySelector("li[data-key]");
    const at = item.last_change || item.observed_at;
    if (top) {
      const topTime = top.querySelector("time");
      if (top.dataset.key === key) return;
      if (at && topTime && topTime.dateTime && Date.parse(at) < Date.parse(topTime.dateTime)) return;
    } else {
      list.replaceChildren();  // the "none" placeholder
    }
    const li = document.createElement("li");
    li.dataset.key = key;
    const time = document.createElement("time");
    time.dateTime = at || "";
    time.textContent = at ? stockholm(at) : "";
    const badge = document.createElement("span");
    const shown = stateOf(item);
    badge.className = "badge b-" + shown;
    badge.textContent = label("state", shown);
    li.append(time, " ", badge);
    faults.forEach((name) => {
      const tag = document.createElement("span");
      tag.className = "fault-tag";
      tag.textContent = label("fault", name);
      li.append(" ", tag);
    });
    if (item.input) {
      const input = document.createElement("span");
      input.className = "sub";
      input.textContent = list.dataset.inputLabel + " " + label("input", item.input);
      li.append(" ", input);
    }
    list.prepend(li);
  }

  function showFacts(item) {
    // The device page's status card, beside its power badge.
    const set = (name, value) => { const el = document.querySelector('[data-live="' + name + '"]'); if (el) el.textContent = value; };
    set("availability", label("state", item.availability));
    set("input", item.input ? label("input", item.input) : "–");
    if (item.observed_at) set("observed_at", stockholm(item.observed_at));
    const faults = document.querySelector('[data-live="faults"]');
    if (faults) {
      faults.replaceChildren();
      (item.faults || []).forEach((name) => {
        const tag = document.createElement("span");
        tag.className = "fault-tag";
        tag.textContent = label("fault", name);
        faults.append(tag, " ");
      });
      if (!(item.faults || []).length) faults.textContent = faults.dataset.none;
    }
  }

  function stockholm(iso) {
    // 2026-12-01 14:05:09 in Europe/Stockholm, 24-hour (sv-SE formats as ISO date and 24-hour time).
    return new Date(iso).toLocaleString("sv-SE", { timeZone: "Europe/Stockholm", hour12: false });
  }

  // Count tables (overview, municipality, school) are re-read from the server a moment after a change:
  // the counts are the server's (scope, school hours), so the page asks for its own URL again.
  let countsTimer = null;
  function refreshCounts() {
    if (!document.querySelector("table.counts") || countsTimer) return;
    countsTimer = setTimeout(async () => {
      countsTimer = null;
      try {
        const res = await fetch(location.href, { credentials: "same-origin" });
        if (!res.ok) return;
        const fresh = new DOMParser().parseFromString(await res.text(), "text/html");
        const now = document.querySelectorAll("table.counts");
        fresh.querySelectorAll("table.counts").forEach((table, i) => {
          if (now[i]) now[i].replaceWith(document.importNode(table, true));
        });
      } catch (e) { /* the next change tries again */ }
    }, 3000);
  }

  function follow() {
    const live = document.getElementById("live");
    if (!live || !window.EventSource) return;
    const source = new EventSource("/api/v1/stream");
    source.addEventListener("open", () => { live.dataset.state = "on"; live.textContent = body.dataset.msgLive; });
    source.addEventListener("error", () => { live.dataset.state = "off"; live.textContent = body.dataset.msgOffline; });
    source.addEventListener("device", (event) => {
      const item = JSON.parse(event.data);
      const key = item.agent_id + "/" + item.id;
      refreshCounts();
      document.querySelectorAll('[data-field="power"][data-device]').forEach((el) => {
        if (el.dataset.device !== key) return;
        showPower(el, item);
        if (el.dataset.testid === "device-power") { addHistory(item); showFacts(item); }
      });
    });
    source.addEventListener("ticket", (event) => {
      const item = JSON.parse(event.data);
      document.querySelectorAll('tr[data-testid="ticket-row"]').forEach((row) => {
        if (row.dataset.ticket !== String(item.id)) return;
        row.dataset.state = item.state;
        const cell = row.querySelector('[data-field="state"]');
        if (cell) {
          cell.dataset.value = item.state;
          const badge = cell.querySelector(".badge");
          if (badge) { badge.className = "badge b-" + item.state; badge.textContent = label("ticket", item.state); }
        }
      });
      refreshCounts();
    });
    source.addEventListener("agent", (event) => {
      const item = JSON.parse(event.data);
      document.querySelectorAll("[data-agent-state]").forEach((el) => {
        if (el.dataset.agentState !== item.id) return;
        const badge = el.querySelector(".badge");
        if (badge) { badge.className = "badge b-" + item.state; badge.textContent = label("state", item.state); }
      });
    });
    window.addEventListener("beforeunload", () => source.close());
  }
  if (body.dataset.page !== "login") follow();

  // --- confirmation dialog ---------------------------------------------------------------------
  const dialog = document.getElementById("confirm");
  function confirmThen(button, text, action) {
    if (!dialog) return;
    document.getElementById("confirm-text").textContent = text;
    dialog.returnValue = "";
    dialog.addEventListener("close", function once() {
      dialog.removeEventListener("close", once);
      button.focus();
      if (dialog.returnValue === "yes") action();
    });
    dialog.showModal();
    dialog.querySelector('[data-testid="confirm-no"]').focus();
  }

  // --- device commands -------------------------------------------------------------------------
  const controls = document.getElementById("controls");
  const result = document.getElementById("command-result");
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function showResult(status, detail) {
    result.dataset.value = status;
    result.textContent = label("command", status) + (detail ? " – " + detail : "");
  }

  async function runCommand(button) {
    const args = {};
    if (button.dataset.action === "set_input") args.input = document.getElementById(button.dataset.inputFrom).value;
    if (button.dataset.action === "av_mute") args.on = button.dataset.mute === "true";
    const buttons = controls.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    result.dataset.value = "";
    result.textContent = body.dataset.msgWaiting;
    try {
      let command = await call("POST", "/api/v1/commands",
        { agent_id: controls.dataset.agent, device_id: controls.dataset.device, action: button.dataset.action, args });
      // The agent answers within seconds, or the command expires (its ttl): poll until it is settled.
      for (let i = 0; i < 180 && (command.status === "pending" || command.status === "sent"); i++) {
        await sleep(1000);
        command = await call("GET", "/api/v1/commands/" + encodeURIComponent(command.id));
      }
      showResult(command.status, command.detail || "");
    } catch (e) {
      result.dataset.value = "error";
      result.textContent = body.dataset.msgFailed.replace("{detail}", e.message);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  if (controls) {
    controls.querySelectorAll("button[data-action]").forEach((button) => {
      button.addEventListener("click", () => confirmThen(button, button.dataset.confirm, () => runCommand(button)));
    });
  }

  // --- ticket actions --------------------------------------------------------------------------
  document.querySelectorAll("button[data-ticket-action]").forEach((button) => {
    button.addEventListener("click", () => confirmThen(button, button.dataset.confirm, async () => {
      button.disabled = true;
      try {
        await call("POST", "/api/v1/tickets/" + encodeURIComponent(button.dataset.ticket) + "/" + button.dataset.ticketAction, {});
        window.location.reload();
      } catch (e) {
        button.disabled = false;
        window.alert(body.dataset.msgFailed.replace("{detail}", e.message));
      }
    }));
  });

  // --- admin pages: user and token actions, add a user, create a token ------------------------
  const adminResult = document.getElementById("admin-result");
  function adminFailed(e) {
    if (adminResult) adminResult.textContent = body.dataset.msgFailed.replace("{detail}", e.message);
  }
  document.querySelectorAll("button[data-api-path]").forEach((button) => {
    button.addEventListener("click", () => confirmThen(button, button.dataset.confirm, async () => {
      button.disabled = true;
      try {
        await call(button.dataset.apiMethod, button.dataset.apiPath);
        window.location.reload();
      } catch (e) {
        button.disabled = false;
        adminFailed(e);
      }
    }));
  });
  const addUser = document.getElementById("add-user");
  if (addUser) {
    addUser.addEventListener("submit", async (event) => {
      event.preventDefault();
      const f = new FormData(addUser);
      const municipalities = String(f.get("municipalities") || "").split(",").map((m) => m.trim()).filter(Boolean);
      try {
        const user = await call("POST", "/api/v1/users", { name: String(f.get("name")).trim(), role: f.get("role"),
          municipalities, password: f.get("password") });
        addUser.reset();
        adminResult.textContent = addUser.dataset.msgAdded.replace("{user}", user.name);
        window.setTimeout(() => window.location.reload(), 800);
      } catch (e) { adminFailed(e); }
    });
  }
  const createToken = document.getElementById("create-token");
  if (createToken) {
    createToken.addEventListener("submit", async (event) => {
      event.preventDefault();
      const f = new FormData(createToken);
      try {
        // Shown once and never again: the page is not reloaded, the list shows it next time.
        const made = await call("POST", "/api/v1/tokens", { user: f.get("user"), label: String(f.get("label") || "") });
        document.querySelector('[data-testid="new-token"]').textContent = made.token;
        document.getElementById("new-token").hidden = false;
        adminResult.textContent = "";
        createToken.reset();
      } catch (e) { adminFailed(e); }
    });
  }
}());
