// The insights dashboard's two charts (templates/admin/insights/dashboard.html), drawn with
// the vendored Chart.js from the figures the page carries as JSON in #dashboard-data.
(() => {
  "use strict";

  const data = JSON.parse(document.getElementById("dashboard-data").textContent);
  // The admin's own palette, so the charts follow its light and dark themes.
  const style = getComputedStyle(document.documentElement);
  const colour = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
  const primary = colour("--primary", "#79aec8");
  const error = colour("--error-fg", "#ba2121");
  const text = colour("--body-fg", "#333");
  Chart.defaults.color = text;

  const percent = (value) => `${value}%`;

  new Chart(document.getElementById("chart-volume"), {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [
        // The line is drawn over the bars (a lower order is drawn later).
        { label: "Conversations", data: data.conversations, backgroundColor: primary, order: 1 },
        {
          type: "line", label: "Escalations", data: data.escalations,
          borderColor: error, backgroundColor: error, tension: 0.2, order: 0,
        },
      ],
    },
    options: {
      maintainAspectRatio: false,
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
    },
  });

  new Chart(document.getElementById("chart-resolution"), {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [
        { label: "Confirmed", data: data.confirmed, backgroundColor: "#2e7d32" },
        { label: "Assumed", data: data.assumed, backgroundColor: "#a5d6a7" },
      ],
    },
    options: {
      maintainAspectRatio: false,
      scales: {
        x: { stacked: true },
        y: { stacked: true, min: 0, max: 100, ticks: { callback: percent } },
      },
      plugins: {
        tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${item.formattedValue}%` } },
      },
    },
  });
})();
