// Dataset tables: the expand button shows or hides the row below it. htmx loads the row's
// content when the button opens it (see hx-trigger on the button, which runs first).
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-expand]");
  if (!button) return;
  const row = document.getElementById(button.getAttribute("aria-controls"));
  row.hidden = !row.hidden;
  button.setAttribute("aria-expanded", String(!row.hidden));
});
