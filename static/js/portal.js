// The portal's only script: the Content-Security-Policy allows no inline script, and htmx
// evaluates no code (htmx-config in templates/base.html), so the behaviour below lives here.

// Dataset tables: the expand button shows or hides the row below it; opening it sends "expand",
// on which htmx loads the row's content (hx-trigger="expand" on the button).
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-expand]");
  if (!button) return;
  const row = document.getElementById(button.getAttribute("aria-controls"));
  row.hidden = !row.hidden;
  button.setAttribute("aria-expanded", String(!row.hidden));
  if (!row.hidden) button.dispatchEvent(new Event("expand"));
});

// A live dataset table polls for new datasets, but not while one of its rows is expanded (the
// refresh would close it).
document.addEventListener("htmx:beforeRequest", (event) => {
  const poller = event.detail.elt;
  if (poller.matches("[data-pause-while-expanded]") && poller.querySelector(".dataset-detail:not([hidden])")) {
    event.preventDefault();
  }
});

// The dataset page's gallery: a click on an image shows it large in the page's modal
// (#image-viewer); the link itself points at the image, for a new tab or without script.
document.addEventListener("show.bs.modal", (event) => {
  const modal = event.target;
  const link = event.relatedTarget;
  if (modal.id !== "image-viewer" || !link) return;
  const image = modal.querySelector(".image-viewer-image");
  image.src = link.dataset.image;
  image.alt = link.dataset.caption;
  modal.querySelector(".modal-title").textContent = link.dataset.caption;
  modal.querySelector(".image-viewer-link").href = link.dataset.image;
});

// The thumbnails of a dataset table's expanded row link to the dataset's page at #gallery: open
// that tab.
document.addEventListener("DOMContentLoaded", () => {
  if (window.location.hash !== "#gallery") return;
  const button = document.getElementById("tab-gallery-button");
  if (button && window.bootstrap) window.bootstrap.Tab.getOrCreateInstance(button).show();
});
