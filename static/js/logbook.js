// The logbook's pages: tag colours (set through the CSSOM: the CSP forbids style attributes), and an
// image pasted into a comment becomes the comment's file.
(function () {
  function colourTags(root) {
    root.querySelectorAll(".logbook-tag[data-color]").forEach(function (tag) {
      var colour = tag.getAttribute("data-color");
      if (/^#[0-9a-fA-F]{6}$/.test(colour)) {
        tag.style.backgroundColor = colour;
      }
    });
  }

  function pasteImages() {
    var form = document.querySelector(".logbook-comment");
    if (!form) return;
    var input = form.querySelector("input[type=file]");
    form.addEventListener("paste", function (event) {
      var items = (event.clipboardData && event.clipboardData.files) || [];
      if (!items.length || !items[0].type.startsWith("image/")) return;
      var transfer = new DataTransfer();
      transfer.items.add(items[0]);
      input.files = transfer.files;
      event.preventDefault();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    colourTags(document);
    pasteImages();
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    colourTags(event.detail.target.parentNode || document);
  });
})();
