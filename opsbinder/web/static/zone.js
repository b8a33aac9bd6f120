// The zone page only: fill in the browser's own zone, so "my browser's zone" needs no picking.
document.addEventListener("DOMContentLoaded", function () {
  var select = document.getElementById("own-zone");
  if (!select || select.dataset.current) return;
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  for (var i = 0; i < select.options.length; i++) {
    if (select.options[i].value === zone) { select.value = zone; return; }
  }
});
