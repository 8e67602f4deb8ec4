// The pipelines page's only script. The pages work without it; with it,
// the live parts of a page ([data-live]) are fetched again every few
// seconds while the server marks the page as still running
// (body[data-refresh]) and the auto-refresh toggle is on, and not at all
// while the tab is hidden. It also copies ids, selects every row, and
// counts the selection. Served as a file: the Content-Security-Policy
// allows no inline script.
"use strict";
(function () {
  var body = document.body;
  var timer = null;
  var inFlight = false;
  var toggle = document.getElementById("autorefresh");
  var status = document.getElementById("refresh-status");
  var storeKey = "mediaflow.autorefresh";

  function enabled() {
    return !toggle || toggle.checked;
  }

  function period() {
    var n = parseInt(body.getAttribute("data-refresh") || "", 10);
    return n > 0 && enabled() ? n : 0;
  }

  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }

  function schedule() {
    clearTimeout(timer);
    timer = null;
    if (!body.getAttribute("data-refresh")) {
      say("(nothing running)");
      return;
    }
    if (!enabled()) {
      say("(off)");
      return;
    }
    if (document.hidden) {
      return;
    }
    timer = setTimeout(refresh, period());
  }

  function announce(before, after) {
    var el = document.getElementById("announce");
    if (el && before && after && before !== after) {
      el.textContent = "The pipeline is now " + after + ".";
    }
  }

  function checkedIDs() {
    var out = {};
    var boxes = document.querySelectorAll('input[name="id"]:checked');
    for (var i = 0; i < boxes.length; i++) {
      out[boxes[i].value] = true;
    }
    return out;
  }

  function swap(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var parts = document.querySelectorAll("[data-live]");
    if (!parts.length) {
      return;
    }
    var first = doc.getElementById(parts[0].id);
    if (!first) {
      return;
    }
    if (first.getAttribute("data-version") === parts[0].getAttribute("data-version")) {
      // Nothing changed but the ages: update them in place, so that the
      // element under the pointer or the focus stays the same one.
      var ages = document.querySelectorAll("[data-live] .age");
      var freshAges = doc.querySelectorAll("[data-live] .age");
      for (var i = 0; i < ages.length && i < freshAges.length; i++) {
        ages[i].textContent = freshAges[i].textContent;
      }
      return;
    }
    var before = parts[0].getAttribute("data-state");
    var after = first.getAttribute("data-state");
    var focused = document.activeElement && document.activeElement.id ? document.activeElement.id : "";
    var checked = checkedIDs();
    for (var j = 0; j < parts.length; j++) {
      var fresh = doc.getElementById(parts[j].id);
      if (fresh) {
        parts[j].replaceWith(document.adoptNode(fresh));
      }
    }
    // The rows picked before stay picked.
    var boxes = document.querySelectorAll('input[name="id"]');
    for (var k = 0; k < boxes.length; k++) {
      boxes[k].checked = !!checked[boxes[k].value];
    }
    enhance();
    if (focused) {
      var el = document.getElementById(focused);
      if (el && el !== document.activeElement) {
        el.focus({ preventScroll: true });
      }
    }
    var next = doc.body.getAttribute("data-refresh");
    if (next) {
      body.setAttribute("data-refresh", next);
    } else {
      body.removeAttribute("data-refresh");
    }
    document.title = doc.title;
    announce(before, after);
  }

  function refresh() {
    timer = null;
    if (inFlight) {
      return;
    }
    inFlight = true;
    fetch(location.href, { credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" } })
      .then(function (res) {
        // A session that ended lands on the login form: go there whole.
        if (res.redirected && res.url.indexOf("/ui/login") >= 0) {
          location.assign(res.url);
          return null;
        }
        return res.ok ? res.text() : null;
      })
      .then(function (html) {
        if (html) {
          swap(html);
          say("(updated " + new Date().toLocaleTimeString() + ")");
        }
      })
      .catch(function () {
        // The worker restarting or the network gone: try again later.
        say("(could not update; trying again)");
      })
      .then(function () {
        inFlight = false;
        schedule();
      });
  }

  function countSelected() {
    var el = document.getElementById("selected-count");
    if (el) {
      var n = document.querySelectorAll('input[name="id"]:checked').length;
      el.textContent = n ? n + " selected" : "";
    }
  }

  // enhance shows what needs the script (copy buttons, select-all).
  function enhance() {
    var hidden = document.querySelectorAll("button.copy[hidden], #select-all[hidden], label.autorefresh[hidden]");
    for (var i = 0; i < hidden.length; i++) {
      hidden[i].hidden = false;
    }
    countSelected();
  }

  function copy(text, button) {
    var done = function () {
      button.textContent = "copied";
      setTimeout(function () {
        button.textContent = "copy";
      }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {});
      return;
    }
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "sr-only";
    document.body.appendChild(area);
    area.select();
    try {
      if (document.execCommand("copy")) {
        done();
      }
    } catch (e) {
      // Nothing to copy with: the id is in the link's title.
    }
    area.remove();
  }

  document.addEventListener("click", function (ev) {
    var t = ev.target;
    if (t && t.matches && t.matches("button.copy")) {
      ev.preventDefault();
      copy(t.getAttribute("data-copy"), t);
    }
  });

  document.addEventListener("change", function (ev) {
    var t = ev.target;
    if (!t) {
      return;
    }
    if (t.id === "select-all") {
      var boxes = document.querySelectorAll('input[name="id"]');
      for (var i = 0; i < boxes.length; i++) {
        boxes[i].checked = t.checked;
      }
    }
    if (t.id === "autorefresh") {
      try {
        localStorage.setItem(storeKey, t.checked ? "on" : "off");
      } catch (e) {
        // Storage refused (private mode): the toggle holds for this page.
      }
      if (t.checked && body.getAttribute("data-refresh")) {
        refresh();
      } else {
        schedule();
      }
    }
    countSelected();
  });

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      clearTimeout(timer);
      timer = null;
    } else if (period()) {
      refresh();
    }
  });

  if (toggle) {
    try {
      toggle.checked = localStorage.getItem(storeKey) !== "off";
    } catch (e) {
      toggle.checked = true;
    }
  }
  document.documentElement.classList.add("js");
  enhance();
  schedule();
})();
