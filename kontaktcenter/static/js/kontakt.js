// The citizen form (/kontakt). Progressive enhancement: without JavaScript the
// personnummer field stays, with its help text saying which services use it; with it,
// the field is shown only when such a service is chosen.
(function () {
  "use strict";
  var service = document.getElementById("service");
  var part = document.getElementById("personnummer-part");
  var input = document.getElementById("personnummer");
  if (!service || !part || !input) { return; }
  function update() {
    var option = service.options[service.selectedIndex];
    var needed = option && option.hasAttribute("data-personnummer");
    part.hidden = !needed && !input.value && !input.hasAttribute("aria-invalid");
  }
  service.addEventListener("change", update);
  update();
})();
