// The operator console's live updates: one EventSource; each message carries the HTML of the
// sections that changed, swapped in place. Timers count down between updates.
(function () {
  "use strict";
  var script = document.currentScript;
  var status = document.getElementById("live-status");
  var updated = document.getElementById("updated");
  var offsetMs = 0; // server clock (possibly simulated) minus this browser's clock

  function syncClock(serverNow) {
    if (serverNow) { offsetMs = Date.parse(serverNow) - Date.now(); }
  }

  function tick() {
    var now = Date.now() + offsetMs;
    var timers = document.querySelectorAll(".timer[data-deadline]");
    for (var i = 0; i < timers.length; i++) {
      var left = (Date.parse(timers[i].getAttribute("data-deadline")) - now) / 1000;
      timers[i].textContent = left > 0 ? left.toFixed(1) + " s" : "passed";
      timers[i].classList.toggle("passed", left <= 0);
    }
  }

  function apply(sections, serverNow) {
    Object.keys(sections).forEach(function (name) {
      var target = document.getElementById("sec-" + name);
      if (target) {
        target.innerHTML = sections[name];
        target.classList.remove("changed");
        void target.offsetWidth;
        target.classList.add("changed");
      }
    });
    syncClock(serverNow);
    tick();
  }

  syncClock(script.getAttribute("data-server-now"));
  tick();
  setInterval(tick, 250);
  var source = new EventSource(script.getAttribute("data-events"));
  source.addEventListener("open", function () { status.textContent = "connected"; });
  source.addEventListener("error", function () { status.textContent = "reconnecting…"; });
  source.addEventListener("sections", function (event) {
    var message = JSON.parse(event.data);
    apply(message.sections, message.now);
    updated.textContent = message.at;
    status.textContent = "connected";
  });
})();
