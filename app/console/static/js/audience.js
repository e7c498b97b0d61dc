// The audience builder (templates/console/audience.html): the filter it spells and its live count,
// for the campaigns page and the coupon push page alike.
import { api, debounce, errorText, isMissingEndpoint, t } from "./console.js";

// `section` holds the fields; `onCount(n)` hears each fresh count (null when refused).
export function audienceBuilder(section, onCount = () => {}) {
  function filter() {
    const out = {};
    section.querySelectorAll("[data-aud]:checked").forEach((box) => {
      const value = box.dataset.int !== undefined ? Number(box.value) : box.value;
      (out[box.dataset.aud] ??= []).push(value);
    });
    section.querySelectorAll("[data-aud-num]").forEach((input) => { if (input.value !== "") out[input.dataset.audNum] = Number(input.value); });
    section.querySelectorAll("[data-aud-text]").forEach((input) => { if (input.value) out[input.dataset.audText] = input.value; });
    return out;
  }

  let seq = 0;
  const refresh = debounce(async () => {
    const mine = ++seq;
    const box = section.querySelector("[data-testid=audience-count]");
    box.textContent = t("common.loading");
    delete box.dataset.count;
    const result = await api("POST", "/admin/audiences/preview", { body: { filter: filter() } });
    if (mine !== seq) return; // a newer question is on its way
    if (isMissingEndpoint(result)) { box.textContent = t("common.not_available", { path: "POST /staff/v1/admin/audiences/preview" }); onCount(null); return; }
    if (!result.ok) { box.textContent = errorText(result.error); box.className = "audience-count error"; onCount(null); return; }
    box.className = "audience-count";
    box.textContent = t("campaign.audience_count", { n: result.data.count });
    box.dataset.count = result.data.count;
    onCount(result.data.count);
  });
  section.addEventListener("input", refresh);
  section.addEventListener("change", refresh);
  return { filter, refresh };
}
