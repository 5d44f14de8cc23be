// The dashboard's only script: live parts over EventSource, knobs over fetch (CSRF header).
"use strict";
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const page = document.body.dataset.page;
  const lab = document.body.dataset.lab;
  const $ = (sel) => document.querySelector(sel);
  const el = (tag, attrs, text) => {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  };

  async function post(url, data) {
    const resp = await fetch(url, {method: "POST", body: data || new FormData(),
                                   headers: {"X-CSRF-Token": csrf}, credentials: "same-origin"});
    let body = {};
    try { body = await resp.json(); } catch (e) { body = {detail: resp.statusText}; }
    if (!resp.ok) throw new Error(body.detail || resp.statusText);
    return body;
  }

  // -- the picture ---------------------------------------------------------------------------
  const HW = 70, HH = 32;    // half a host box, plus a margin
  let step = 0;
  function centre(node) {
    const g = document.querySelector(`#picture g.host[data-node="${node}"]`);
    if (!g) return null;
    const m = /translate\(([-\d.]+),([-\d.]+)\)/.exec(g.getAttribute("transform"));
    return {x: +m[1], y: +m[2]};
  }
  function edge(from, to) {          // where the line from `from`'s centre towards `to` leaves its box
    const dx = to.x - from.x, dy = to.y - from.y;
    const t = Math.min(dx ? HW / Math.abs(dx) : Infinity, dy ? HH / Math.abs(dy) : Infinity);
    return {x: from.x + dx * t, y: from.y + dy * t};
  }
  function layout() {                // spread the arrows between the same two hosts side by side
    const groups = {};
    document.querySelectorAll("#wire g.arrow").forEach((g) => {
      const pair = [g.dataset.from, g.dataset.to].sort().join("|");
      (groups[pair] = groups[pair] || []).push(g);
    });
    Object.values(groups).forEach((list) => list.forEach((g, i) => place(g, i - (list.length - 1) / 2)));
  }
  function place(g, slot) {
    const a = centre(g.dataset.from), b = centre(g.dataset.to);
    const len = Math.hypot(b.x - a.x, b.y - a.y) || 1;
    const nx = -(b.y - a.y) / len, ny = (b.x - a.x) / len;
    // the perpendicular points the same way for both directions between two hosts
    const sign = g.dataset.from < g.dataset.to ? 1 : -1;
    const off = slot * 14;
    const p = {x: nx * off * sign, y: ny * off * sign};
    const s = edge(a, b), e = edge(b, a);
    const line = g.querySelector("line");
    line.setAttribute("x1", s.x + p.x); line.setAttribute("y1", s.y + p.y);
    line.setAttribute("x2", e.x + p.x); line.setAttribute("y2", e.y + p.y);
    const vertical = Math.abs(b.y - a.y) > Math.abs(b.x - a.x);
    const text = g.querySelector("text");
    const mx = (s.x + e.x) / 2, my = (s.y + e.y) / 2;
    if (vertical) {           // labels stacked beside the line, inside the picture
      const left = mx > 1000;
      text.setAttribute("x", mx + (left ? -12 : 12)); text.setAttribute("y", my + slot * 17 + 4);
      text.setAttribute("text-anchor", left ? "end" : "start");
    } else {
      text.setAttribute("x", mx + p.x); text.setAttribute("y", my + p.y - 4);
      text.setAttribute("text-anchor", "middle");
    }
    const box = text.getBBox();
    const rect = g.querySelector("rect");
    rect.setAttribute("x", box.x - 3); rect.setAttribute("y", box.y - 1);
    rect.setAttribute("width", box.width + 6); rect.setAttribute("height", box.height + 2);
  }
  function draw(arrow) {
    const wire = $("#wire");
    if (!centre(arrow.from) || !centre(arrow.to)) return;
    step += 1;
    const proto = arrow.protocol;
    let g = wire.querySelector(`g.arrow[data-from="${arrow.from}"][data-to="${arrow.to}"][data-protocol="${proto}"]`);
    if (!g) {
      g = document.createElementNS(SVG, "g");
      g.appendChild(document.createElementNS(SVG, "line"));
      g.appendChild(document.createElementNS(SVG, "rect"));
      g.appendChild(document.createElementNS(SVG, "text"));
      wire.appendChild(g);
    }
    g.setAttribute("class", `arrow p-${arrow.ok ? proto : "bad"} fresh`);
    g.dataset.from = arrow.from; g.dataset.to = arrow.to; g.dataset.protocol = proto;
    g.dataset.ok = arrow.ok ? "true" : "false";
    g.querySelector("line").setAttribute("marker-end", `url(#head-${arrow.ok ? proto : "bad"})`);
    g.querySelector("text").textContent = `${step}. ${proto} ${arrow.short}`;
    const names = (n) => document.querySelector(`#picture g.host[data-node="${n}"] .name`).textContent;
    $("#messages").appendChild(el("li", {"class": arrow.ok ? "" : "bad"},
      `${proto} ${arrow.label}: ${names(arrow.from)} → ${names(arrow.to)}`));
    wire.querySelectorAll("g.arrow.fresh").forEach((o) => { if (o !== g) o.classList.remove("fresh"); });
    layout();
  }
  function signInStarted() {
    $("#wire").replaceChildren();
    $("#messages").replaceChildren();
    step = 0;
  }
  function outcome(signin) {
    const out = $("#outcome");
    out.className = "outcome " + (signin.success ? "good" : "bad");
    out.textContent = `${signin.user}: ${signin.success ? "" : "sign-in failed: "}${signin.text}`;
  }

  // -- the timeline --------------------------------------------------------------------------
  function matches(row) {
    const service = $("#f-service").value, user = $("#f-user").value.trim().toLowerCase();
    const kind = $("#f-kind").value.trim().toLowerCase();
    return (!service || row.dataset.service === service) && (!user || row.dataset.user.toLowerCase().includes(user))
      && (!kind || row.dataset.kind.toLowerCase().includes(kind));
  }
  function refilter() {
    document.querySelectorAll("#events tbody tr").forEach((r) => { r.hidden = !matches(r); });
  }
  function addRow(e) {
    const tbody = $("#events tbody");
    const row = el("tr", {"data-service": e.service || "", "data-user": e.user || "", "data-kind": e.kind || ""});
    const details = e.line.split(" ").slice(3).join(" ");
    [e.time, e.service, e.kind, e.outcome || "", e.user, details].forEach((v) => row.appendChild(el("td", {}, v)));
    if (e.arrow && !e.arrow.ok) row.className = "bad";
    row.hidden = !matches(row);
    tbody.prepend(row);
    while (tbody.rows.length > 1000) tbody.deleteRow(-1);
  }

  // -- the knobs -----------------------------------------------------------------------------
  async function refreshKnobs() {
    let state;
    try {
      state = await (await fetch(`/labs/${lab}/knobs`, {credentials: "same-origin"})).json();
    } catch (e) { return; }
    const faults = $("#faults");
    faults.replaceChildren();
    Object.entries(state.faults || {}).forEach(([service, list]) => {
      const p = el("p", {"class": "fault"}, `${service}: ` + list.map((f) => `${f.action} ${f.protocol || "any"}` +
        (f.action === "delay" ? ` ${f.seconds} s` : "")).join(", ") + " ");
      const b = el("button", {type: "button"}, `Clear faults on ${service}`);
      b.addEventListener("click", () => act(`/labs/${lab}/faults/clear`, new URLSearchParams({service})));
      p.appendChild(b);
      faults.appendChild(p);
    });
    const select = $("#sg-group"), chosen = select.value;
    select.replaceChildren();
    const groups = $("#groups");
    groups.replaceChildren();
    (state.security_groups || []).forEach((g) => {
      select.appendChild(el("option", {value: g.id}, `${g.name} (${g.id})`));
      groups.appendChild(el("p", {"class": "group"}, `${g.name}: ` +
        (g.rules.map((r) => r.text).join(", ") || "no inbound rules")));
    });
    if (chosen) select.value = chosen;
  }
  async function act(url, data) {
    const msg = $("#knob-message");
    msg.className = "";
    msg.textContent = "…";
    try {
      msg.textContent = (await post(url, data)).message;
      msg.className = "good";
    } catch (err) {
      msg.textContent = err.message;
      msg.className = "bad";
    }
    refreshKnobs();
  }

  // -- the launcher --------------------------------------------------------------------------
  async function run(form) {
    const out = $("#run-output"), verdict = $("#run-verdict"), link = $("#run-report");
    out.textContent = ""; link.hidden = true;
    verdict.className = ""; verdict.textContent = "starting…";
    let started;
    try { started = await post(form.dataset.action, new FormData(form)); } catch (err) {
      verdict.textContent = err.message; verdict.className = "bad"; return;
    }
    verdict.textContent = `${started.scenario}: running`;
    const source = new EventSource(`/runs/${started.run}/stream`);
    source.onmessage = (m) => {
      const line = JSON.parse(m.data).line;
      const span = el("span", {"class": /\bPASS\b/.test(line) ? "good" : /\bFAIL\b/.test(line) ? "bad" : ""}, line + "\n");
      out.appendChild(span);
      out.scrollTop = out.scrollHeight;
    };
    source.addEventListener("done", (m) => {
      source.close();
      const done = JSON.parse(m.data);
      verdict.textContent = `${started.scenario}: ${done.verdict}`;
      verdict.className = done.verdict === "passed" ? "good" : "bad";
      if (done.report) { link.href = `/runs/${started.run}/report`; link.hidden = false; }
    });
  }

  // -- the demo ------------------------------------------------------------------------------
  function narrate() {
    const box = $("#narration"), next = $("#next");
    const source = new EventSource(`/labs/${lab}/narration`);
    source.onmessage = (m) => {
      const row = JSON.parse(m.data);
      if (row.demo !== document.body.dataset.demoId) {      // a new demo: its narration from the start
        box.replaceChildren();
        document.body.dataset.demoId = row.demo;
      }
      if (row.text !== undefined) {
        box.appendChild(el("p", {"class": /^Step \d+:/.test(row.text) ? "step" : ""}, row.text));
        box.scrollTop = box.scrollHeight;
      }
      next.disabled = !row.wait;
      document.body.dataset.demo = row.end ? "ended" : "running";
    };
    next.addEventListener("click", async () => {
      next.disabled = true;
      try { await post(`/labs/${lab}/narration/next`); } catch (err) { next.disabled = false; }
    });
  }

  // -- the class -----------------------------------------------------------------------------
  function tiles() {
    const source = new EventSource("/class/tiles");
    source.addEventListener("tiles", (m) => {
      JSON.parse(m.data).forEach((t) => {
        const tile = document.getElementById(`tile-${t.key}`);
        if (!tile) return;
        tile.classList.toggle("sick", !t.healthy);
        tile.querySelector(".health").textContent = t.healthy ? "healthy" : `unhealthy: ${t.unhealthy.join(", ")}`;
        tile.dataset.reached = t.reached;
        const list = tile.querySelector(".milestones");
        list.replaceChildren();
        (t.milestones || []).forEach((s) => list.appendChild(el("li", {"class": s.done ? "done" : "todo",
          "data-key": s.key}, (s.done ? "✔ " : "· ") + s.label)));
      });
    });
  }

  if (page === "lab") {
    const source = new EventSource(`/labs/${lab}/events`);
    source.onmessage = (m) => {
      const e = JSON.parse(m.data);
      addRow(e);
      if (e.live && e.kind === "workspaces.signin_started") signInStarted();
      if (e.live && e.arrow) draw(e.arrow);
      if (e.signin && e.live) outcome(e.signin);
    };
    source.addEventListener("ready", () => { document.body.dataset.live = "true"; });
    ["#f-service", "#f-user", "#f-kind"].forEach((s) => $(s).addEventListener("input", refilter));
    document.querySelectorAll("form.knob").forEach((f) => f.addEventListener("submit", (ev) => {
      ev.preventDefault();
      act(f.dataset.action, new FormData(f));
    }));
    $("#run-form").addEventListener("submit", (ev) => { ev.preventDefault(); run(ev.target); });
    refreshKnobs();
    narrate();
  } else if (page === "class") {
    tiles();
  }
})();
