// Campaigns (marketer+): build an audience with a live count, write the message and see it as the
// member will, schedule, cancel, and read the report (treated versus holdout).
import {
  api, busy, clearErrors, config, debounce, errorText, fenToYuan, flash, formatInstant, h, isMissingEndpoint,
  notAvailable, readFields, showError, t, validate,
} from "./console.js";
import { audienceBuilder } from "./audience.js";

const PATH = "/admin/campaigns";
const $ = (sel) => document.querySelector(sel);
const listCard = $("#campaign-list");
const form = $("#campaign-form");
const report = $("#report");
const rowTemplate = $("#tpl-row");
const charts = {};

// ---- the list ------------------------------------------------------------------------------

async function campaignAction(id, action, button) {
  return busy(button, async () => {
    const result = await api("POST", `${PATH}/${id}/${action}`);
    if (!result.ok) { flash(errorText(result.error), "error"); return null; }
    flash(t(`campaign.${action}_done`));
    return result.data;
  });
}

function listRow(c) {
  const actions = [h("a", { class: "button", href: `/console/campaigns/${c.id}`, "data-testid": "open-report" }, t("campaign.report"))];
  if (c.status === "draft") {
    const schedule = h("button", { type: "button" }, t("campaign.schedule"));
    schedule.addEventListener("click", async () => { if (await campaignAction(c.id, "schedule", schedule)) loadList(); });
    actions.push(schedule);
  }
  if (!["sent", "cancelled"].includes(c.status)) {
    const cancel = h("button", { type: "button", class: "danger" }, t("campaign.cancel"));
    cancel.addEventListener("click", async () => { if (await campaignAction(c.id, "cancel", cancel)) loadList(); });
    actions.push(cancel);
  }
  return h("tr", { dataset: { campaignId: c.id } }, [
    h("td", { "data-label": t("common.name") }, c.name),
    h("td", { "data-label": t("common.status") }, h("span", { class: `badge ${c.status}`, "data-testid": "status" }, t(`campaign.status.${c.status}`))),
    h("td", { "data-label": t("campaign.channel") }, t(`campaign.channel.${c.channel}`)),
    h("td", { "data-label": t("campaign.send_at") }, formatInstant(c.send_at)),
    h("td", { "data-label": t("campaign.targeted") }, c.targeted == null ? "—" : `${c.targeted} / ${c.held_out}`),
    h("td", { "data-label": t("common.actions") }, h("div", { class: "row" }, actions)),
  ]);
}

async function loadList() {
  const result = await api("GET", PATH, { query: { limit: 100 } });
  if (isMissingEndpoint(result)) { notAvailable(document.querySelector("main"), `GET /staff/v1${PATH}`); return; }
  const body = $("#campaigns tbody");
  if (!result.ok) { body.replaceChildren(h("tr", {}, h("td", { colspan: 6, class: "error" }, errorText(result.error)))); return; }
  body.replaceChildren(...(result.data.items.length ? result.data.items.map(listRow) : [h("tr", {}, h("td", { colspan: 6 }, t("common.none")))]));
}

// ---- the audience --------------------------------------------------------------------------

const audience = audienceBuilder($("#audience"));

// ---- the message ---------------------------------------------------------------------------

function addTemplateRow(editor, key = "", value = "") {
  const row = rowTemplate.content.firstElementChild.cloneNode(true);
  row.querySelector("[data-key]").value = key;
  row.querySelector("[data-value]").value = value;
  row.querySelector("[data-remove]").addEventListener("click", () => { row.remove(); refreshPreview(); });
  editor.querySelector(".tpl-rows").append(row);
}

function channelsInUse() {
  const channel = form.querySelector("[data-field=channel]").value;
  return channel === "auto" ? ["subscribe", "oa"] : [channel];
}

function templateFor(channel) {
  const editor = form.querySelector(`.template-editor[data-channel=${channel}]`);
  const templateId = editor.querySelector("[data-tpl=template_id]").value.trim();
  const data = {};
  editor.querySelectorAll(".tpl-row").forEach((row) => {
    const key = row.querySelector("[data-key]").value.trim();
    if (key) data[key] = row.querySelector("[data-value]").value;
  });
  if (!templateId && !Object.keys(data).length) return null;
  return { template_id: templateId, data };
}

function syncChannels() {
  const used = channelsInUse();
  form.querySelectorAll(".template-editor").forEach((editor) => { editor.hidden = !used.includes(editor.dataset.channel); });
}

function previewCard(channel, result) {
  const card = h("div", { class: "message-preview", dataset: { channel } }, [
    h("div", { class: "mp-title" }, `${t(`campaign.template.${channel}`)} · ${result.ok ? result.data.template_id : ""}`),
  ]);
  if (!result.ok) {
    const details = result.error.details ? JSON.stringify(result.error.details) : "";
    card.append(h("p", { class: "error" }, `${errorText(result.error)} ${details}`));
    return card;
  }
  for (const [key, value] of Object.entries(result.data.data)) {
    card.append(h("div", { class: "mp-row" }, [h("span", {}, key), h("span", {}, value.value)]));
  }
  card.append(h("p", { class: "hint" }, t("campaign.preview_for", { name: result.data.member })));
  return card;
}

// The preview is rendered by the server with the same code the sender uses.
let previewSeq = 0;
const refreshPreview = debounce(async () => {
  const seq = ++previewSeq;
  const box = $("#preview");
  const wanted = channelsInUse().map((channel) => [channel, templateFor(channel)]).filter(([, spec]) => spec);
  if (!wanted.length) { box.replaceChildren(h("p", { class: "hint" }, t("campaign.preview_empty"))); return; }
  const cards = await Promise.all(wanted.map(async ([channel, spec]) => {
    let result;
    try {
      const response = await fetch("/console/campaigns/preview", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        credentials: "same-origin",
        body: JSON.stringify({ template: spec, official_account: channel === "oa", member_no: $("#preview-member").value.trim() }),
      });
      const data = await response.json().catch(() => null);
      result = response.ok ? { ok: true, data } : { ok: false, error: (data && data.error) || { code: `http.${response.status}`, message: "" } };
    } catch (err) {
      result = { ok: false, error: { code: "network", message: t("error.network") } };
    }
    return previewCard(channel, result);
  }));
  if (seq === previewSeq) box.replaceChildren(...cards);
}, 400);

form.querySelectorAll(".template-editor").forEach((editor) => {
  editor.querySelector("[data-add-row]").addEventListener("click", () => addTemplateRow(editor));
  editor.addEventListener("input", refreshPreview);
});
$("#preview-member").addEventListener("input", refreshPreview);
form.querySelector("[data-field=channel]").addEventListener("change", () => { syncChannels(); refreshPreview(); });

// ---- saving --------------------------------------------------------------------------------

function campaignBody() {
  const fields = readFields(form);
  const template = {};
  for (const channel of channelsInUse()) {
    const spec = templateFor(channel);
    if (spec) template[channel] = spec;
  }
  return {
    name: fields.name,
    audience: audience.filter(),
    channel: fields.channel,
    template,
    page: fields.page || "",
    send_at: fields.send_at ?? null,
    coupon_template_id: fields.coupon_template_id ?? null,
    // The page shows whole percent; the API takes a share between 0 and 0.5.
    holdout_share: fields.holdout_share === undefined ? undefined : fields.holdout_share / 100,
    report_days: fields.report_days,
  };
}

async function save(scheduleToo, button) {
  return busy(button, async () => {
    if (!validate(form)) return;
    const created = await api("POST", PATH, { body: campaignBody() });
    if (!created.ok) { showError(form, created.error); return; }
    let campaign = created.data;
    if (scheduleToo) {
      const scheduled = await api("POST", `${PATH}/${campaign.id}/schedule`);
      if (!scheduled.ok) {
        // The draft is kept; the errors say what to fix before scheduling it.
        showError(form, scheduled.error);
        loadList();
        return;
      }
      campaign = scheduled.data;
    }
    flash(t(scheduleToo ? "campaign.schedule_done" : "campaign.saved_draft"));
    form.hidden = true;
    listCard.hidden = false;
    loadList();
  });
}

form.addEventListener("submit", (event) => { event.preventDefault(); save(false, form.querySelector("[type=submit]")); });
$("#save-schedule").addEventListener("click", (event) => save(true, event.currentTarget));
$("#cancel-form").addEventListener("click", () => { form.hidden = true; listCard.hidden = false; });

async function loadCoupons() {
  const result = await api("GET", "/admin/coupon-templates", { query: { limit: 100 } });
  if (!result.ok) return;
  $("#coupon-select").append(...result.data.items.filter((tpl) => tpl.is_active).map((tpl) => h("option", { value: tpl.id }, `${tpl.name} (#${tpl.id})`)));
}

$("#new-campaign").addEventListener("click", () => {
  form.reset();
  clearErrors(form);
  form.querySelectorAll(".tpl-rows").forEach((rows) => rows.replaceChildren());
  form.querySelectorAll(".template-editor").forEach((editor) => addTemplateRow(editor));
  syncChannels();
  form.hidden = false;
  listCard.hidden = true;
  audience.refresh();
  refreshPreview();
  form.querySelector("[data-field=name]").focus();
});

// ---- the report ----------------------------------------------------------------------------

function figure(label, value, testid) {
  return h("div", { class: "figure", "data-testid": testid }, [h("strong", {}, String(value ?? "—")), h("span", {}, label)]);
}

function percent(x) { return x == null ? "—" : `${(x * 100).toFixed(1)}%`; }

function drawBars(canvas, labels, values, format) {
  if (!window.Chart) return;
  if (charts[canvas.id]) charts[canvas.id].destroy();
  charts[canvas.id] = new window.Chart(canvas, {
    type: "bar",
    data: { labels, datasets: [{ data: values, backgroundColor: ["#c0392b", "#9fb3c8"], borderRadius: 6 }] },
    options: {
      maintainAspectRatio: false,
      animation: false,
      plugins: { legend: { display: false }, tooltip: { callbacks: { label: (ctx) => format(ctx.raw) } } },
      scales: { y: { beginAtZero: true, ticks: { callback: (v) => format(v) } } },
    },
  });
}

function diffText(diff, ci, format) {
  const sign = diff > 0 ? "+" : "";
  const interval = ci ? t("campaign.ci95", { low: format(ci[0]), high: format(ci[1]) }) : t("campaign.ci_unknown");
  return `${t("campaign.difference")}: ${sign}${format(diff)} · ${interval}`;
}

async function showReport(id) {
  listCard.hidden = true;
  report.hidden = false;
  const [campaign, result] = await Promise.all([api("GET", `${PATH}/${id}`), api("GET", `${PATH}/${id}/report`)]);
  if (!campaign.ok) { $("#report-title").textContent = errorText(campaign.error); return; }
  const c = campaign.data;
  $("#report-title").textContent = c.name;
  $("#report-status").replaceChildren(h("span", { class: `badge ${c.status}`, "data-testid": "report-status" }, t(`campaign.status.${c.status}`)),
    ` · ${t("campaign.send_at")}: ${formatInstant(c.send_at)}`);
  const cancel = $("#report-cancel");
  cancel.hidden = ["sent", "cancelled"].includes(c.status);
  cancel.onclick = async () => { if (await campaignAction(id, "cancel", cancel)) showReport(id); };
  const schedule = $("#report-schedule");
  schedule.hidden = c.status !== "draft";
  schedule.onclick = async () => { if (await campaignAction(id, "schedule", schedule)) showReport(id); };
  if (!result.ok) { $("#report-figures").replaceChildren(h("p", { class: "error" }, errorText(result.error))); return; }
  const r = result.data;
  $("#report-figures").replaceChildren(
    figure(t("campaign.targeted"), r.targeted, "fig-targeted"),
    figure(t("campaign.held_out"), r.held_out, "fig-held-out"),
    figure(t("campaign.sent"), r.sent, "fig-sent"),
    figure(t("campaign.failed"), r.failed, "fig-failed"),
    figure(t("campaign.skipped"), r.skipped, "fig-skipped"),
    figure(t("campaign.pending"), r.pending, "fig-pending"),
    figure(t("campaign.uncertain"), r.uncertain, "fig-uncertain"),
    figure(t("campaign.cancelled"), r.cancelled, "fig-cancelled"),
  );
  const effect = r.effect;
  $("#effect-empty").hidden = Boolean(effect);
  $("#effect-charts").hidden = !effect;
  if (!effect) { report.dataset.loaded = "yes"; return; }
  $("#effect-window").textContent = `${formatInstant(effect.window_start)} – ${formatInstant(effect.window_end)}`;
  const labels = [
    t("campaign.treated_n", { n: effect.treated.members }),
    t("campaign.holdout_n", { n: effect.holdout.members }),
  ];
  drawBars($("#chart-share"), labels, [effect.treated.purchase_share, effect.holdout.purchase_share], percent);
  const yuan = (fen) => `¥${fenToYuan(Math.round(fen))}`;
  drawBars($("#chart-spend"), labels, [effect.treated.spend_per_member_fen, effect.holdout.spend_per_member_fen], yuan);
  $("#share-diff").textContent = diffText(effect.purchase_share_difference, effect.purchase_share_difference_ci95, percent);
  $("#spend-diff").textContent = diffText(effect.spend_per_member_difference_fen, effect.spend_per_member_difference_ci95, yuan);
  report.dataset.loaded = "yes";
}

await loadCoupons();
if (config.campaign_id) showReport(config.campaign_id);
else loadList();
