// The pipelines page's only script. The pages work without it; with it,
// the live part of a page (#live) is fetched again every few seconds while
// the server marks the page as still running (body[data-refresh]), and not
// at all while the tab is hidden. Served as a file: the Content-Security-
// Policy allows no inline script.
"use strict";
(function () {
  var body = document.body;
  var timer = null;
  var inFlight = false;

  function period() {
    var n = parseInt(body.getAttribute("data-refresh") || "", 10);
    return n > 0 ? n : 0;
  }

  function schedule() {
    clearTimeout(timer);
    timer = null;
    if (!period() || document.hidden) {
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

  function swap(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.getElementById("live");
    var current = document.getElementById("live");
    if (!fresh || !current) {
      return;
    }
    if (fresh.getAttribute("data-version") === current.getAttribute("data-version")) {
      // Nothing changed but the ages: update them in place, so that the
      // element under the pointer or the focus stays the same one.
      var ages = current.querySelectorAll(".age");
      var freshAges = fresh.querySelectorAll(".age");
      for (var i = 0; i < ages.length && i < freshAges.length; i++) {
        ages[i].textContent = freshAges[i].textContent;
      }
      return;
    }
    var before = current.getAttribute("data-state");
    var focused = document.activeElement && current.contains(document.activeElement) ? document.activeElement.id : "";
    current.replaceWith(document.adoptNode(fresh));
    if (focused) {
      var el = document.getElementById(focused);
      if (el) {
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
    announce(before, fresh.getAttribute("data-state"));
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
        }
      })
      .catch(function () {
        // The worker restarting or the network gone: try again later.
      })
      .then(function () {
        inFlight = false;
        schedule();
      });
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      clearTimeout(timer);
      timer = null;
    } else if (period()) {
      refresh();
    }
  });

  document.documentElement.classList.add("js");
  schedule();
})();
