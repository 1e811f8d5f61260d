// scheduler-lite web UI: polls the JSON API (relative URLs, so it works
// behind a /service/<name>/ proxy) and renders plans, pods, agents, health
// and the target configuration, and which pods are out of date with it.
// Buttons call the same API (plan start/interrupt/continue, pod
// restart/replace/pause/resume), with the operator's bearer token when one
// is set.
// No build step, no dependencies. Values are put into the DOM as text,
// never as HTML.
"use strict";

const POLL_MS = Number(new URLSearchParams(location.search).get("interval") || 2000);
const TOKEN_KEY = "scheduler-lite-api-token";

// agentOf caches task ID → {agent, ip}: a task's agent never changes.
const agentOf = new Map();
let timer = null;
let polling = false;

// h builds an element: h("td", {class: "x", dataset: {pod: "p"}}, "text", child...).
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function status(s) {
  return h("span", { class: "st st-" + s, dataset: { status: s } }, s);
}

function token() {
  try { return sessionStorage.getItem(TOKEN_KEY) || ""; } catch (e) { return ""; }
}

async function api(method, path) {
  const headers = { Accept: "application/json" };
  const t = token();
  if (t) headers.Authorization = "Bearer " + t;
  const resp = await fetch(path, { method, headers, cache: "no-store" });
  let body = null;
  const text = await resp.text();
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = { message: text }; }
  return { code: resp.status, body };
}

// getJSON GETs path; a 404 is absent as its body when absent is given.
async function getJSON(path, absent) {
  const r = await api("GET", path);
  if (r.code === 401 || r.code === 403) throw new Error(path + ": HTTP " + r.code + " (set the API token above)");
  if (r.code === 404 && absent !== undefined) return { code: r.code, body: absent };
  // /v1/health answers with its value as the status code; a plan with
  // errors answers 417 with its view.
  const ok = path.indexOf("v1/health") === 0 || r.code < 400 || r.code === 417;
  if (!ok) throw new Error(path + ": HTTP " + r.code + (r.body && r.body.message ? " " + r.body.message : ""));
  return r;
}

async function load() {
  const health = await getJSON("v1/health?verbose=true");
  const fid = await getJSON("v1/state/frameworkId");
  const target = await getJSON("v1/configurations/targetId");
  const names = (await getJSON("v1/plans")).body || [];
  const plans = await Promise.all(names.map(async (n) => ({ name: n, view: (await getJSON("v1/plans/" + encodeURIComponent(n))).body })));
  const podNames = (await getJSON("v1/pod")).body || [];
  // v1/pod lists the instances with stored tasks (as the SDK); one erased
  // (decommissioned) between the two calls, or UNKNOWN_POD_<task>, is 404.
  const pods = await Promise.all(podNames.map(async (n) => (await getJSON("v1/pod/" + encodeURIComponent(n) + "/status", { name: n, tasks: [] })).body));
  // Agents come from the pods' TaskInfos (secret values there are masked by
  // the API; the UI shows none of the environment anyway).
  await Promise.all(pods.map(async (p) => {
    if (!p.tasks.some((t) => !agentOf.has(t.id))) return;
    const info = (await getJSON("v1/pod/" + encodeURIComponent(p.name) + "/info")).body || [];
    for (const e of info) {
      const id = e.info && e.info.task_id && e.info.task_id.value;
      if (!id) continue;
      const agent = e.info.agent_id ? e.info.agent_id.value : "";
      let ip = "";
      const ni = e.status && e.status.container_status && e.status.container_status.network_infos;
      if (ni && ni[0] && ni[0].ip_addresses && ni[0].ip_addresses[0]) ip = ni[0].ip_addresses[0].ip_address || "";
      if (agent && (ip || (e.status && e.status.state !== "TASK_STAGING"))) agentOf.set(id, { agent, ip });
    }
  }));
  return { health, fid: fid.body, target: (target.body && target.body[0]) || "", plans, pods };
}

// HEALTH names /v1/health's codes (the SDK's ServiceStatusCode), for
// answers without a body (204).
const HEALTH = {
  200: "RUNNING", 202: "DEPLOYING_STARTING", 203: "RECOVERING_PENDING", 204: "DEPLOYING_PENDING",
  205: "RECOVERING_STARTING", 207: "DEPLOYING_WAITING_USER", 208: "DELAYED", 318: "INITIALIZING",
  500: "ERROR_CREATING_SERVICE", 503: "SERVICE_UNAVAILABLE",
};

function renderHealth(health) {
  const el = document.getElementById("health");
  const v = health.body && health.body.value !== undefined ? health.body.value : health.code;
  const word = health.body && health.body.status ? health.body.status : HEALTH[v] || "";
  el.className = "badge h-" + v;
  el.dataset.value = String(v);
  el.dataset.status = word;
  el.textContent = "health " + v + (word ? " " + word : "");
}

// IDENTITY names the data attributes that say what an element stands for
// (which plan, step, pod, agent, which command a button sends).
const IDENTITY = ["plan", "phase", "step", "pod", "agent", "action", "cmd", "taskId"];

// identity is what a node stands for: its tag and IDENTITY attributes.
function identity(n) {
  if (n.nodeType !== Node.ELEMENT_NODE) return n.nodeType + n.nodeName;
  return n.nodeName + IDENTITY.map((k) => "|" + (n.dataset[k] || "")).join("");
}

// morph makes el's children look like nodes while keeping the page's
// elements: a child that stands for the same thing (identity) at the same
// place is updated in place, its attributes and text set and its children
// morphed in turn; anything else is replaced. So a poll that changes a
// row's status or a plan's message leaves its buttons in place, and a
// click the user has begun on one (mouse down, then up) lands on the
// button it began on, never on another pod's or plan's. The disabled
// state a running command puts on its button is the page's own and is
// kept.
function morph(el, nodes) {
  const old = Array.from(el.childNodes);
  nodes.forEach((n, i) => {
    const o = old[i];
    if (!o) el.append(n);
    else if (identity(o) !== identity(n)) el.replaceChild(n, o);
    else if (n.nodeType === Node.ELEMENT_NODE) {
      for (const a of Array.from(o.attributes)) {
        if (a.name !== "disabled" && !n.hasAttribute(a.name)) o.removeAttribute(a.name);
      }
      for (const a of Array.from(n.attributes)) {
        if (o.getAttribute(a.name) !== a.value) o.setAttribute(a.name, a.value);
      }
      morph(o, Array.from(n.childNodes));
    } else if (o.nodeValue !== n.nodeValue) o.nodeValue = n.nodeValue;
  });
  for (const o of old.slice(nodes.length)) o.remove();
}

function renderPlans(plans) {
  const box = document.getElementById("plans");
  const out = [];
  for (const { name, view } of plans) {
    const rows = [];
    for (const ph of view.phases || []) {
      rows.push(h("tr", { class: "phase", dataset: { phase: ph.name } },
        h("td", {}, ph.name, " ", h("span", { class: "meta" }, "(" + ph.strategy + ")")), h("td", {}, status(ph.status)), h("td")));
      for (const st of ph.steps || []) {
        rows.push(h("tr", { class: "step-row", dataset: { step: st.name } },
          h("td", { class: "step" }, st.name), h("td", {}, status(st.status)), h("td", { class: "msg" }, st.message || "")));
      }
    }
    out.push(h("div", { class: "plan", dataset: { plan: name, status: view.status } },
      h("div", { class: "plan-head" },
        h("h3", {}, name), status(view.status), h("span", { class: "meta" }, view.strategy || ""),
        h("span", { class: "spacer" }),
        h("button", { type: "button", dataset: { action: "plan", plan: name, cmd: "start" }, title: "POST v1/plans/" + name + "/start" }, "Start"),
        h("button", { type: "button", dataset: { action: "plan", plan: name, cmd: "interrupt" }, title: "POST v1/plans/" + name + "/interrupt" }, "Interrupt"),
        h("button", { type: "button", dataset: { action: "plan", plan: name, cmd: "continue" }, title: "POST v1/plans/" + name + "/continue" }, "Continue")),
      (view.errors || []).map((e) => h("div", { class: "errors" }, e)),
      rows.length ? h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "phase / step"), h("th", {}, "status"), h("th", {}, "message"))), h("tbody", {}, rows))
        : h("p", { class: "empty" }, "no phases")));
  }
  morph(box, out.length ? out : [h("p", { class: "empty" }, "no plans")]);
}

// shortID is the start of a configuration ID, as the page shows it.
function shortID(id) {
  return id ? id.slice(0, 12) : "";
}

// configCell says which configuration a task runs, and what the target
// changes of it when it is out of date (it is relaunched when its step's
// turn comes).
function configCell(t, target) {
  if (!t || !t.configuration) return "";
  const out = t.outOfDate && t.outOfDate.length;
  return h("span", { class: out ? "cfg outdated" : "cfg", dataset: { configuration: t.configuration, outOfDate: out ? "true" : "false" },
    title: out ? "out of date with the target " + target + ": " + t.outOfDate.join(", ") : "on the target configuration" },
    h("code", {}, shortID(t.configuration)), out ? " out of date: " + t.outOfDate.join(", ") : "");
}

function renderPods(pods, target) {
  const body = document.querySelector("#pods tbody");
  const rows = [];
  const button = (p, cmd, label, title, cls) =>
    h("button", { type: "button", class: cls, dataset: { action: "pod", pod: p.name, cmd }, title: "POST v1/pod/" + p.name + "/" + cmd + ": " + title }, label);
  for (const p of pods) {
    const tasks = p.tasks.length ? p.tasks : [null];
    const outdated = p.tasks.some((t) => t.outOfDate && t.outOfDate.length);
    const paused = p.tasks.some((t) => t.status === "PAUSED" || t.status === "PAUSING");
    tasks.forEach((t, i) => {
      const a = t && agentOf.get(t.id);
      rows.push(h("tr", { dataset: { pod: p.name, task: t ? t.name : "", outOfDate: outdated ? "true" : "false" } },
        i === 0 ? h("td", { rowspan: tasks.length }, h("strong", {}, p.name), outdated ? h("div", { class: "outdated-badge" }, "out of date") : null) : null,
        h("td", {}, t ? t.name : h("span", { class: "empty" }, "not launched")),
        h("td", {}, t ? status(t.status) : ""),
        h("td", {}, a ? (a.ip || a.agent) : ""),
        h("td", {}, t ? h("code", { class: "task-id", dataset: { taskId: t.id } }, t.id) : ""),
        h("td", {}, configCell(t, target)),
        i === 0 ? h("td", { rowspan: tasks.length },
          button(p, "restart", "Restart", "relaunch in place"), " ",
          button(p, "replace", "Replace", "relaunch elsewhere, data lost", "danger"), " ",
          paused ? button(p, "resume", "Resume", "relaunch with its command and checks")
            : button(p, "pause", "Pause", "relaunch idle, without checks, to debug in the sandbox")) : null));
    });
  }
  morph(body, rows.length ? rows : [h("tr", {}, h("td", { colspan: 7, class: "empty" }, "no pods"))]);
}

function renderAgents(pods) {
  const byAgent = new Map();
  for (const p of pods) {
    for (const t of p.tasks) {
      const a = agentOf.get(t.id);
      if (!a) continue;
      if (!byAgent.has(a.agent)) byAgent.set(a.agent, { ip: a.ip, tasks: [] });
      const e = byAgent.get(a.agent);
      if (!e.ip) e.ip = a.ip;
      e.tasks.push(t.name + " (" + t.status + ")");
    }
  }
  const rows = [...byAgent.keys()].sort().map((id) => {
    const e = byAgent.get(id);
    return h("tr", { dataset: { agent: id } }, h("td", {}, h("code", {}, id)), h("td", {}, e.ip), h("td", {}, e.tasks.sort().join(", ")));
  });
  morph(document.querySelector("#agents tbody"), rows.length ? rows : [h("tr", {}, h("td", { colspan: 3, class: "empty" }, "no tasks placed yet"))]);
}

function banner(msg) {
  const b = document.getElementById("banner");
  b.hidden = !msg;
  b.textContent = msg || "";
}

function showAction(msg, ok) {
  const a = document.getElementById("action");
  a.hidden = false;
  a.className = "action" + (ok ? "" : " fail");
  a.dataset.ok = ok ? "true" : "false";
  a.textContent = msg;
}

async function poll() {
  if (polling) return;
  polling = true;
  clearTimeout(timer);
  try {
    const s = await load();
    renderHealth(s.health);
    document.getElementById("framework").textContent = (s.fid && s.fid[0]) || "not registered";
    const target = document.getElementById("target");
    target.firstChild.textContent = shortID(s.target);
    target.title = "the target configuration " + s.target + ": what the service runs, or rolls to";
    target.dataset.configuration = s.target;
    renderPlans(s.plans);
    renderPods(s.pods, s.target);
    renderAgents(s.pods);
    const u = document.getElementById("updated");
    u.textContent = "updated " + new Date().toLocaleTimeString();
    u.dataset.polls = String(Number(u.dataset.polls || 0) + 1);
    banner("");
  } catch (e) {
    banner("Cannot load the scheduler's state: " + e.message + " (retrying)");
  } finally {
    polling = false;
    timer = setTimeout(poll, POLL_MS);
  }
}

async function command(btn) {
  const d = btn.dataset;
  let path, what;
  if (d.action === "plan") {
    path = "v1/plans/" + encodeURIComponent(d.plan) + "/" + d.cmd;
    what = d.cmd + " plan " + d.plan;
  } else {
    path = "v1/pod/" + encodeURIComponent(d.pod) + "/" + d.cmd;
    what = d.cmd + " pod " + d.pod;
    if (d.cmd === "replace" && !confirm("Replace " + d.pod + "? Its tasks are relaunched from scratch, possibly on another agent; their data is lost.")) return;
  }
  btn.disabled = true;
  try {
    const r = await api("POST", path);
    const msg = r.body && r.body.message ? r.body.message : r.body && r.body.tasks ? "relaunching " + r.body.tasks.join(", ") : "";
    if (r.code === 401 || r.code === 403) {
      showAction(what + ": HTTP " + r.code + ": the API needs a token; paste it under \"API token\".", false);
      const box = document.getElementById("token-box");
      box.open = true;
      document.getElementById("token").focus();
    }
    else if (r.code === 208) showAction(what + ": nothing to do (" + msg + ")", true);
    else showAction(what + ": HTTP " + r.code + (msg ? ": " + msg : ""), r.code < 300);
  } catch (e) {
    showAction(what + ": " + e.message, false);
  } finally {
    btn.disabled = false;
    poll();
  }
}

function tokenState() {
  document.getElementById("token-state").textContent = token() ? "(set for this tab)" : "(none)";
}

document.addEventListener("click", (ev) => {
  const btn = ev.target.closest("button[data-action]");
  if (btn) command(btn);
});
document.getElementById("token-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const input = document.getElementById("token");
  try { sessionStorage.setItem(TOKEN_KEY, input.value.trim()); } catch (e) { /* storage disabled */ }
  input.value = "";
  tokenState();
  poll();
});
document.getElementById("token-clear").addEventListener("click", () => {
  try { sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* storage disabled */ }
  tokenState();
});
tokenState();
poll();
