// The till's pickups: what the scanned member collects at the counter (mall goods against their
// pickup code, physical lottery prizes against the scan), each handed over with one tap.
import { api, busy, errorText, h, newKey, t } from "./console.js";

// One Idempotency-Key per pickup, kept across retries of the same hand-over.
const keys = new Map();

function handOver(pickup, scan) {
  if (pickup.kind === "goods") {
    return ["/exchanges/collect", { pickup_code: pickup.pickup_code }];
  }
  return [`/lottery-wins/${pickup.draw_id}/fulfilment`, { scan_id: scan.scan_id }];
}

function item(pickup, scan) {
  const id = `${pickup.kind}:${pickup.id}`;
  const note = h("span", { class: "field-error", role: "alert", hidden: true });
  const button = h("button", { type: "button", class: "big", "data-testid": "collect" }, t("till.collect"));
  const li = h("li", { class: "pickup", dataset: { pickup: id } }, [
    h("div", { class: "coupon-text" }, [
      h("strong", {}, `${pickup.name} ${t("till.pickup_quantity", { n: pickup.quantity })}`),
      h("span", {}, t(`till.pickup.${pickup.kind}`)),
      pickup.pickup_code ? h("small", {}, t("till.pickup_code", { code: pickup.pickup_code })) : null,
      note,
    ]),
    button,
  ]);
  button.addEventListener("click", () => busy(button, async () => {
    const [path, body] = handOver(pickup, scan);
    if (!keys.has(id)) keys.set(id, newKey());
    const result = await api("POST", path, { body, idempotencyKey: keys.get(id) });
    if (result.status !== 0) keys.delete(id);
    if (!result.ok) { note.textContent = errorText(result.error); note.hidden = false; return; }
    note.hidden = true;
    button.replaceWith(h("span", { class: "badge ok", "data-testid": "collected" }, t("till.collected")));
  }));
  return li;
}

export function renderPickups(list, pickups, scan) {
  if (!pickups.length) { list.replaceChildren(h("li", { class: "empty" }, t("till.no_pickups"))); return; }
  list.replaceChildren(...pickups.map((pickup) => item(pickup, scan)));
}
