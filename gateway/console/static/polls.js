/* Loa Xóm console, polls: the SMS preview of the poll form, and a poll's live results (bars and
   tables refreshed from its JSON every few seconds). Plain JavaScript, no build step. */
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]').content;

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, k) { return values[k]; });
  }

  // The form: what residents will read, and its parts, as the official types.
  var form = document.getElementById("poll-form");
  if (form) {
    var timer = null;
    var preview = function () {
      var data = {};
      ["question", "options", "title", "body"].forEach(function (name) { data[name] = form.elements[name].value; });
      fetch(form.dataset.previewUrl, {
        method: "POST", credentials: "same-origin",
        headers: {"X-CSRF-Token": csrf, "Content-Type": "application/json"}, body: JSON.stringify(data)
      }).then(function (r) { return r.json(); }).then(function (j) {
        document.getElementById("poll-sms").textContent = j.text;
        document.getElementById("poll-sms-parts").textContent = j.summary;
      });
    };
    form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(preview, 400); });
    preview();
  }

  // Results: the bars and tables follow the answers as they arrive.
  var results = document.getElementById("poll-results");
  if (results) {
    var messages = JSON.parse(document.getElementById("poll-messages").textContent);
    var cell = function (text) { var td = document.createElement("td"); td.textContent = text; return td; };
    var table = function (id, rows, key) {
      var body = document.querySelector("#" + id + " tbody");
      body.textContent = "";
      rows.forEach(function (row) {
        var tr = document.createElement("tr");
        tr.appendChild(cell(row[key]));
        row.counts.forEach(function (n) { var td = cell(n); td.className = "num"; tr.appendChild(td); });
        var last = cell(row.answered + "/" + row.asked + " (" + row.share + "%)");
        last.className = "num";
        tr.appendChild(last);
        body.appendChild(tr);
      });
    };
    var refresh = function () {
      fetch(results.dataset.url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) {
          if (r.status === 401) { window.location.reload(); throw new Error("session expired"); }
          return r.json();
        }).then(function (j) {
          var total = j.total;
          document.getElementById("poll-total").textContent = fill(messages.answered, total);
          document.getElementById("poll-state").textContent = j.state;
          total.counts.forEach(function (n, i) {
            results.querySelector('[data-option="' + i + '"]').style.width =
              (total.answered ? Math.round(100 * n / total.answered) : 0) + "%";
            results.querySelector('[data-count="' + i + '"]').textContent = n;
          });
          table("poll-areas", j.areas, "area");
          table("poll-audiences", j.audiences, "audience");
          if (!j.done) { setTimeout(refresh, 3000); }
        });
    };
    setTimeout(refresh, 3000);
  }
})();
