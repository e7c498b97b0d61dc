// The console's shared helpers: the page's config, words, the staff API client, form errors.
// Every page script imports from here; nothing here knows business rules.

const config = JSON.parse(document.getElementById("console-config").textContent);
export { config };

export function t(key, values = {}) {
  const text = config.messages[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : `{${name}}`));
}

export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// One call to the staff API. Resolves to {ok, status, data, error}; never throws for HTTP errors.
// `idempotencyKey` is sent as Idempotency-Key: reuse the same key when retrying the same action.
export async function api(method, path, { body, query, idempotencyKey, raw } = {}) {
  let url = config.api + path;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") params.set(k, v);
    const qs = params.toString();
    if (qs) url += (url.includes("?") ? "&" : "?") + qs;
  }
  const headers = { Authorization: `Bearer ${config.token}`, Accept: raw ? "*/*" : "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  let response;
  try {
    response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    return { ok: false, status: 0, data: null, error: { code: "network", message: t("error.network"), details: {} } };
  }
  if (response.status === 401) {
    flash(t("error.session_expired"), "error");
    setTimeout(() => { window.location.href = config.login_url || "/console/login"; }, 1200);
  }
  if (raw && response.ok) return { ok: true, status: response.status, data: response, error: null };
  let data = null;
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("json")) {
    try { data = await response.json(); } catch (err) { data = null; }
  }
  if (response.ok) return { ok: true, status: response.status, data, error: null };
  const error = (data && data.error) || { code: `http.${response.status}`, message: response.statusText, details: {} };
  return { ok: false, status: response.status, data, error };
}

// Call `fn` once the calls stop for `ms` (live counts and previews while someone types).
export function debounce(fn, ms = 300) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

// Whether an endpoint exists yet (the console is built against the contract; some APIs land later).
export function isMissingEndpoint(result) {
  return !result.ok && (result.status === 404 || result.status === 405) && result.error.code !== undefined
    && ["not_found", "method.not_allowed"].includes(result.error.code);
}

export function errorText(error) {
  const known = config.messages[`err.${error.code}`];
  const text = known || error.message || error.code;
  return error.code && error.code !== "network" ? `${text} (${error.code})` : text;
}

export function flash(text, kind = "ok") {
  const box = document.getElementById("flash");
  if (!box) return;
  box.textContent = text;
  box.className = `flash ${kind}`;
  box.hidden = false;
  clearTimeout(flash.timer);
  if (kind === "ok") flash.timer = setTimeout(() => { box.hidden = true; }, 6000);
}

// Flatten the API's 422 details ({tiers: {"0": {code: ["..."]}}}) into {"tiers.0.code": ["..."]}.
export function flattenDetails(details, prefix = "", out = {}) {
  if (Array.isArray(details)) {
    const texts = details.filter((d) => typeof d === "string");
    if (texts.length) out[prefix || "_schema"] = texts;
    details.filter((d) => d && typeof d === "object").forEach((d) => flattenDetails(d, prefix, out));
    return out;
  }
  if (details && typeof details === "object") {
    for (const [k, v] of Object.entries(details)) flattenDetails(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (typeof details === "string") {
    out[prefix || "_schema"] = [details];
  }
  return out;
}

export function clearErrors(form) {
  form.querySelectorAll(".field-error").forEach((node) => node.remove());
  form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
  const box = form.querySelector(".form-error");
  if (box) { box.hidden = true; box.textContent = ""; }
}

function markField(input, text) {
  input.setAttribute("aria-invalid", "true");
  const note = document.createElement("span");
  note.className = "field-error";
  note.textContent = text;
  (input.closest("label") || input).after(note);
}

// Show an API error on a form: field messages next to their inputs (data-field="path"),
// the rest in the form's error box, in the contract's words.
export function showError(form, error) {
  clearErrors(form);
  const box = form.querySelector(".form-error");
  const lines = [errorText(error)];
  const fields = flattenDetails(error.details || {});
  for (const [path, messages] of Object.entries(fields)) {
    const input = form.querySelector(`[data-field="${CSS.escape(path)}"]`);
    if (input) markField(input, messages.join(" "));
    else lines.push(`${path}: ${messages.join(" ")}`);
  }
  if (box) { box.textContent = lines.join("\n"); box.hidden = false; }
  else flash(lines.join("\n"), "error");
}

// Check the browser's constraints (from the API's schemas) before sending anything.
export function validate(form, extra = () => ({})) {
  clearErrors(form);
  let ok = true;
  form.querySelectorAll("input, select, textarea").forEach((input) => {
    if (!input.willValidate || input.checkValidity()) return;
    ok = false;
    markField(input, input.validationMessage);
  });
  for (const [path, text] of Object.entries(extra() || {})) {
    const input = form.querySelector(`[data-field="${CSS.escape(path)}"]`);
    ok = false;
    if (input) markField(input, text);
  }
  if (!ok) {
    const box = form.querySelector(".form-error");
    if (box) { box.textContent = t("common.invalid_form"); box.hidden = false; }
    const first = form.querySelector("[aria-invalid]");
    if (first) first.focus();
  }
  return ok;
}

// A form that creates or edits one record of a collection: POST `path` when `current()` is null,
// else PATCH `path/{id}`; the body is `read()`; after a save the form hides and `done()` runs.
export function recordForm(form, path, { current, read, done }) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(form.querySelector("[type=submit]"), async () => {
      if (!validate(form)) return;
      const record = current();
      const body = read();
      const result = record === null
        ? await api("POST", path, { body })
        : await api("PATCH", `${path}/${record.id}`, { body });
      if (!result.ok) { showError(form, result.error); return; }
      form.hidden = true;
      flash(t("common.saved"));
      done();
    });
  });
}

// A list page's table from a GET of `path`: its rows, "none", the API's error in the table, or
// the whole page replaced by "not available" when the endpoint does not exist.
export async function loadTable(tbody, path, row, colspan) {
  const result = await api("GET", path, { query: { limit: 100 } });
  if (isMissingEndpoint(result)) { notAvailable(document.querySelector("main"), `GET /staff/v1${path}`); return; }
  if (!result.ok) { tbody.replaceChildren(h("tr", {}, h("td", { class: "error", colspan }, errorText(result.error)))); return; }
  tbody.replaceChildren(...(result.data.items.length ? result.data.items.map(row) : [h("tr", {}, h("td", { colspan }, t("common.none")))]));
}

// A form that edits one program's settings: PUT `path` with `read()` (default: the form's
// fields); the answer is shown again with `show(data)` (default: back into the form).
export function settingsForm(form, path, { read = () => readFields(form), show = (data) => fillFields(form, data) } = {}) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(form.querySelector("[type=submit]"), async () => {
      if (!validate(form)) return;
      const result = await api("PUT", path, { body: read() });
      if (!result.ok) { showError(form, result.error); return; }
      show(result.data);
      flash(t("common.saved"));
    });
  });
}

// Money: the API speaks integer fen; people type yuan. Parsed as text so 0.1 + 0.2 never happens.
export function yuanToFen(text) {
  const match = /^\s*(\d{1,9})(?:\.(\d{1,2}))?\s*$/.exec(String(text));
  if (!match) return null;
  return Number(match[1]) * 100 + Number((match[2] || "").padEnd(2, "0"));
}

export function fenToYuan(fen) {
  const sign = fen < 0 ? "-" : "";
  const abs = Math.abs(fen);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
}

// <input type="datetime-local"> speaks the browser's local time without an offset.
export function toLocalInput(iso) {
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function formatInstant(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return date.toLocaleString(config.lang === "zh" ? "zh-CN" : "en-GB", { hour12: false });
}

export function formatDate(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleDateString(config.lang === "zh" ? "zh-CN" : "en-GB");
}

// Build DOM without innerHTML: h("tr", {class: "x"}, [h("td", {}, "text")]).
export function h(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of [].concat(children)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Run an action with its button disabled (no double taps), the same key kept across retries.
export async function busy(button, action) {
  if (button.disabled) return undefined;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await action();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

export function notAvailable(container, path) {
  container.replaceChildren(h("p", { class: "notice", "data-testid": "not-available" }, t("common.not_available", { path })));
}

// Download an authenticated file (CSV) through fetch: a plain link cannot carry the bearer token.
export async function download(path, query, filename) {
  const result = await api("GET", path, { query, raw: true });
  if (!result.ok) { flash(errorText(result.error), "error"); return false; }
  const blob = await result.data.blob();
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  return true;
}

// The menu is a <details> drawer on a phone and always open on a desktop.
const nav = document.querySelector("details.nav");
if (nav) {
  const wide = window.matchMedia("(min-width: 800px)");
  const sync = () => { if (wide.matches) nav.open = true; };
  sync();
  wide.addEventListener("change", sync);
}

// Forms whose inputs name their JSON path in data-field ("expiry.days", "tiers.0.code").
function setPath(target, path, value) {
  const keys = path.split(".");
  let node = target;
  keys.forEach((key, i) => {
    const last = i === keys.length - 1;
    const nextIsIndex = !last && /^\d+$/.test(keys[i + 1]);
    if (last) node[key] = value;
    else node = node[key] ??= nextIsIndex ? [] : {};
  });
}

function getPath(source, path) {
  return path.split(".").reduce((node, key) => (node == null ? undefined : node[key]), source);
}

export function readFields(form) {
  const out = {};
  form.querySelectorAll("[data-field]").forEach((input) => {
    if (!("value" in input) || input.dataset.read === "no" || input.disabled) return; // containers name a path for errors only
    let value;
    if (input.type === "checkbox") value = input.checked;
    else if (input.dataset.type === "int-or-null") value = input.value === "" ? null : Number(input.value);
    else if (input.type === "number" && input.value === "") return; // left out: the API's default
    else if (input.type === "number") value = Number(input.value);
    else if (input.dataset.type === "fen") value = input.value === "" ? null : yuanToFen(input.value);
    else if (input.dataset.type === "json") value = input.value.trim() ? JSON.parse(input.value) : null;
    else if (input.dataset.type === "datetime") value = input.value ? new Date(input.value).toISOString() : null;
    else if (input.dataset.type === "list") value = input.value.split(/[,，\s]+/).filter(Boolean);
    else if (input.multiple) value = [...input.selectedOptions].map((o) => o.value);
    else value = input.value;
    if (value === null && input.dataset.omitEmpty !== undefined) return;
    setPath(out, input.dataset.field, value);
  });
  return out;
}

export function fillFields(form, data) {
  form.querySelectorAll("[data-field]").forEach((input) => {
    const value = getPath(data, input.dataset.field);
    if (value === undefined) return;
    if (input.type === "checkbox") input.checked = Boolean(value);
    else if (input.dataset.type === "fen") input.value = value == null ? "" : fenToYuan(value);
    else if (input.dataset.type === "json") input.value = value == null ? "" : JSON.stringify(value);
    else if (input.dataset.type === "datetime") input.value = value ? toLocalInput(value) : "";
    else if (input.dataset.type === "list") input.value = (value || []).join(", ");
    else input.value = value ?? "";
  });
}
