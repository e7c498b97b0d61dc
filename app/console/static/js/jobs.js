// Scheduled jobs (admin): GET /staff/v1/admin/jobs — schedule, next run, last run and outcome.
import { api, errorText, formatInstant, h, t } from "./console.js";

const body = document.querySelector("#jobs tbody");

function cron(schedule) {
  if (!schedule) return "—";
  return Object.entries(schedule).map(([k, v]) => `${k}=${v}`).join(" ");
}

function took(run) {
  if (!run.finished_at) return "";
  const ms = new Date(run.finished_at) - new Date(run.started_at);
  return ms >= 0 ? ` · ${t("jobs.duration")} ${(ms / 1000).toFixed(1)}s` : "";
}

// A count may be a figure, a list or an object (the segments refresh reports its model's
// parameters and its seconds per step): show nested values as `key: value` lines, indented.
function countLines(counts, indent = "") {
  return Object.entries(counts).flatMap(([k, v]) => {
    if (v !== null && typeof v === "object") {
      return [`${indent}${k}:`, ...countLines(Array.isArray(v) ? Object.fromEntries(v.entries()) : v, `${indent}  `)];
    }
    return [`${indent}${k}: ${v ?? "—"}`];
  });
}

function row(job) {
  const run = job.last_run;
  const cells = [
    [t("jobs.name"), [h("strong", {}, job.name), h("div", { class: "hint" }, job.description || "")]],
    [t("jobs.schedule"), h("code", {}, cron(job.schedule))],
    [t("jobs.next_run"), job.next_run_at ? formatInstant(job.next_run_at) : t("jobs.not_scheduled")],
    [t("jobs.last_run"), run ? `${formatInstant(run.started_at)}${took(run)} · ${run.trigger || ""}` : t("jobs.never")],
    [t("jobs.outcome"), run ? [h("span", { class: `badge ${run.outcome}` }, run.outcome),
      run.error ? h("div", { class: "field-error" }, run.error) : null] : "—"],
    [t("jobs.counts"), run && run.counts && Object.keys(run.counts).length
      ? h("pre", { class: "counts" }, countLines(run.counts).join("\n")) : "—"],
  ];
  return h("tr", { dataset: { job: job.name } }, cells.map(([label, content]) => h("td", { "data-label": label }, content)));
}

async function load() {
  const result = await api("GET", "/admin/jobs");
  if (!result.ok) { body.replaceChildren(h("tr", {}, h("td", { colspan: 6, class: "error" }, errorText(result.error)))); return; }
  body.replaceChildren(...result.data.items.map(row));
}
document.getElementById("refresh").addEventListener("click", load);
load();
