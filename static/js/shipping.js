// The parcel statistics' chart (Chart.js, served from node_modules): parcels per month, stacked
// by status. Its data are the canvas's data-chart attribute (no inline script: the CSP forbids it).
document.addEventListener("DOMContentLoaded", () => {
  const canvas = document.getElementById("parcel-chart");
  if (!canvas || !window.Chart) return;
  const data = JSON.parse(canvas.dataset.chart);
  const palette = ["#6c757d", "#0dcaf0", "#198754", "#0d6efd", "#6610f2", "#fd7e14", "#20c997", "#212529", "#dc3545"];
  new window.Chart(canvas, {
    type: "bar",
    data: {
      labels: data.months,
      datasets: data.series.map((series, i) => ({ label: series.label, data: series.counts, backgroundColor: palette[i % palette.length] })),
    },
    options: {
      maintainAspectRatio: false,
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
      plugins: { legend: { position: "bottom" } },
    },
  });
});
