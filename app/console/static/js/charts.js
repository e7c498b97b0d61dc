// Figures for the report pages: number formats, tiles, tables, and Chart.js charts (vendored,
// loaded by the page as window.Chart). Every chart sits beside a table of the same numbers.
import { fenToYuan, h, t } from "./console.js";

export const share = (x) => (x == null ? "—" : `${(x * 100).toFixed(1)}%`);
export const yuan = (fen) => (fen == null ? "—" : `${fen < 0 ? "-" : ""}¥${fenToYuan(Math.abs(Math.round(fen)))}`);
export const count = (n) => (n == null ? "—" : String(n));

export function tile(label, value, testid) {
  return h("div", { class: "figure", "data-testid": testid }, [h("strong", {}, value), h("span", {}, label)]);
}

// columns: [[header, cell(row), testid?]]; rows: any list. Cells name their column for phones.
export function table(columns, rows, testid, rowAttrs = () => ({})) {
  return h("div", { class: "table-wrap" }, h("table", { class: "stack", "data-testid": testid }, [
    h("thead", {}, h("tr", {}, columns.map(([header]) => h("th", {}, header)))),
    h("tbody", {}, rows.length
      ? rows.map((row, i) => h("tr", rowAttrs(row, i), columns.map(([header, cell, id]) => h("td", { "data-label": header, "data-col": id }, cell(row, i)))))
      : h("tr", {}, h("td", { colspan: columns.length }, t("an.none")))),
  ]));
}

// A bar or line chart of one series; `charts` collects it so the page can destroy it on redraw.
export function chart(charts, { title, testid, type = "bar", labels, values, format = String, horizontal = false }) {
  const canvas = h("canvas", { role: "img", "aria-label": title, "data-testid": testid });
  if (window.Chart) {
    charts.push(new window.Chart(canvas, {
      type,
      data: { labels, datasets: [{ label: title, data: values, backgroundColor: values.map((v) => (v < 0 ? "#9fb3c8" : "#c0392b")), borderColor: "#c0392b" }] },
      options: {
        maintainAspectRatio: false,
        animation: false,
        indexAxis: horizontal ? "y" : "x",
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: (ctx) => format(ctx.raw) } } },
        scales: { [horizontal ? "x" : "y"]: { beginAtZero: true } },
      },
    }));
  }
  return h("div", { class: "chart-box" }, canvas);
}
