// Flagged referrals (marketer+): a burst of sign-ups waits here instead of being paid; approve
// (rewards are paid when due) or reject (rewards cancelled).
import { api, busy, errorText, flash, formatInstant, h, t } from "./console.js";

const PATH = "/admin/referrals";
const body = document.querySelector("#referrals tbody");
const more = document.getElementById("more");
const showAll = document.getElementById("show-all");
let cursor = null;

function row(r) {
  const decide = (approve) => {
    const button = h("button", { type: "button", class: approve ? "primary" : "danger", "data-testid": approve ? "approve" : "reject" },
      t(approve ? "review.approve" : "review.reject"));
    button.addEventListener("click", () => busy(button, async () => {
      const result = await api("POST", `${PATH}/${r.id}/review`, { body: { approve } });
      if (!result.ok) { flash(errorText(result.error), "error"); return; }
      flash(t(approve ? "review.approved" : "review.rejected", { id: r.id }));
      reload();
    }));
    return button;
  };
  const waiting = r.flagged && r.reviewed_by == null;
  const status = waiting ? t("review.waiting") : t(`review.status.${r.status}`);
  return h("tr", { dataset: { referralId: r.id } }, [
    h("td", { "data-label": "#" }, String(r.id)),
    h("td", { "data-label": t("review.referrer") }, `#${r.referrer_id}`),
    h("td", { "data-label": t("review.invitee") }, `#${r.invitee_id}`),
    h("td", { "data-label": t("common.status") }, h("span", { class: `badge ${waiting ? "" : "ok"}`, "data-testid": "referral-status" }, status)),
    h("td", { "data-label": t("review.created_at") }, formatInstant(r.created_at)),
    h("td", { "data-label": t("review.qualified_at") }, formatInstant(r.qualified_at)),
    h("td", { "data-label": t("common.actions") }, waiting ? h("div", { class: "row" }, [decide(true), decide(false)]) : null),
  ]);
}

async function load(append) {
  const result = await api("GET", PATH, { query: { flagged: showAll.checked ? "false" : "true", limit: 50, cursor: append ? cursor : null } });
  if (!result.ok) { body.replaceChildren(h("tr", {}, h("td", { class: "error", colspan: 7 }, errorText(result.error)))); return; }
  const rows = result.data.items.map(row);
  if (append) body.append(...rows);
  else body.replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 7, "data-testid": "none" }, t("review.none")))]));
  cursor = result.data.next_cursor;
  more.hidden = !cursor;
}

function reload() { cursor = null; load(false); }

showAll.addEventListener("change", () => {
  document.getElementById("list-title").textContent = t(showAll.checked ? "review.all" : "review.flagged");
  reload();
});
more.addEventListener("click", () => busy(more, () => load(true)));
reload();
