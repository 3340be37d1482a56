/* Loa Xóm console: live SMS preview, audio preview, uploads and microphone recording on the
   compose page; live progress on an announcement's page. Plain JavaScript, no build step. */
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var messagesEl = document.getElementById("messages");
  var msg = messagesEl ? JSON.parse(messagesEl.textContent) : {};

  function post(url, data) {
    var isForm = data instanceof FormData;
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: isForm ? {"X-CSRF-Token": csrf} : {"X-CSRF-Token": csrf, "Content-Type": "application/json"},
      body: isForm ? data : JSON.stringify(data)
    }).then(expired).then(function (r) { return r.json().then(function (j) { j._status = r.status; return j; }); });
  }
  function get(url) {
    return fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(expired).then(function (r) { return r.json(); });
  }
  function expired(r) {
    // The log-in ended (CONSOLE_SESSION_MINUTES): reloading shows the log-in page and says why.
    if (r.status === 401) { window.location.reload(); throw new Error("session expired"); }
    return r;
  }
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, k) { return values[k]; });
  }

  // Compose ---------------------------------------------------------------------------------
  var form = document.getElementById("compose");
  if (form) {
    var checked = function (name) {
      return Array.prototype.map.call(form.querySelectorAll('input[name="' + name + '"]:checked'), function (el) { return el.value; });
    };
    // The area tree: search, expand, a parent covers its parts, and a live summary.
    var tree = document.getElementById("area-tree");
    var fold = function (text) {
      return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[đĐ]/g, "d").toLowerCase();
    };
    var boxes = function (root) { return Array.prototype.slice.call(root.querySelectorAll('input[name="areas"]')); };
    var expand = function (button, open) {
      button.setAttribute("aria-expanded", open ? "true" : "false");
      document.getElementById(button.getAttribute("aria-controls")).hidden = !open;
    };
    var areaSummary = function () {
      var chosen = boxes(tree).filter(function (b) { return b.checked && !b.disabled; });
      var households = chosen.reduce(function (n, b) { return n + Number(b.dataset.households); }, 0);
      document.getElementById("area-summary").textContent = chosen.length ? fill(msg.area_summary, {
        codes: chosen.map(function (b) { return b.dataset.code; }).join(", "), households: households}) : msg.area_none;
    };
    var cover = function () {
      // A ticked area includes its parts: they are shown as covered, not counted twice.
      boxes(tree).forEach(function (b) { b.disabled = false; var li = b.closest("li"); li.classList.remove("covered"); });
      boxes(tree).forEach(function (b) {
        if (!b.checked) { return; }
        var sub = b.closest("li").querySelector("ul");
        if (!sub) { return; }
        boxes(sub).forEach(function (inner) {
          inner.checked = false; inner.disabled = true; inner.closest("li").classList.add("covered");
          inner.title = fill(msg.covered, {name: b.parentNode.textContent.trim().split("[")[0].trim()});
        });
      });
      areaSummary();
    };
    tree.addEventListener("change", cover);
    Array.prototype.forEach.call(tree.querySelectorAll("button.toggle"), function (button) {
      button.addEventListener("click", function () { expand(button, button.getAttribute("aria-expanded") !== "true"); });
    });
    document.getElementById("area-search").addEventListener("input", function (e) {
      var wanted = fold(e.target.value.trim());
      var items = Array.prototype.slice.call(tree.querySelectorAll("li"));
      items.forEach(function (li) { li.hidden = false; });
      if (!wanted) { return; }
      // Deepest first: an item stays when it or one of its parts matches; matches are opened up to the root.
      items.reverse().forEach(function (li) {
        var own = fold(li.dataset.search).indexOf(wanted) >= 0;
        var inner = Array.prototype.some.call(li.querySelectorAll("li"), function (x) { return !x.hidden; });
        li.hidden = !own && !inner;
        var button = li.querySelector(":scope > button.toggle");
        if (inner && button) { expand(button, true); }
      });
    });
    cover();

    var timer = null;
    var shortBox = document.getElementById("sms-short");
    var shortEdited = shortBox.value.trim() !== "";
    shortBox.addEventListener("input", function () { shortEdited = shortBox.value.trim() !== ""; });
    var setText = function (id, text) { document.getElementById(id).textContent = text || ""; };
    var preview = function () {
      var mode = form.querySelector('input[name="sms_mode"]:checked');
      post(form.dataset.previewUrl, {
        title: form.title.value, body: form.body.value, areas: checked("areas"), priority: form.priority.value,
        audiences: checked("audiences"), channels: checked("channels"),
        sms_mode: mode ? mode.value : "full", sms_short: shortEdited ? shortBox.value : ""
      }).then(function (p) {
        if (!p.available) { setText("sms-preview", p.message); return; }
        setText("sms-preview", p.text || msg.empty);
        setText("sms-summary", p.summary);
        setText("sms-cost", p.text ? p.cost_text : "");
        // Longer than one SMS: the official chooses, never a silent cut.
        document.getElementById("sms-options").hidden = p.fits;
        if (!p.fits) {
          setText("sms-full-label", p.full.label);
          setText("sms-short-label", p.short.label);
          document.getElementById("sms-short-box").hidden = p.mode !== "short";
          if (!shortEdited) { shortBox.value = p.short.text; }
          var check = document.getElementById("sms-short-check");
          check.textContent = p.short.parts > 1 ? fill(msg.short_parts, {parts: p.short.parts})
            : p.short.lost.length ? fill(msg.short_lost, {facts: p.short.lost.join(", ")}) : msg.short_ok;
          check.className = p.short.parts > 1 || p.short.lost.length ? "small bad" : "small ok";
        }
        var list = document.getElementById("compose-warnings");
        list.innerHTML = "";
        (p.warnings || []).forEach(function (w) {
          var li = document.createElement("li"); li.textContent = w; list.appendChild(li);
        });
        setText("audio-estimate", p.audio_text);
      });
    };
    var schedule = function () { clearTimeout(timer); timer = setTimeout(preview, 250); };
    form.addEventListener("input", schedule);
    form.addEventListener("change", schedule);
    preview();

    var status = document.getElementById("audio-status");
    var player = document.getElementById("audio-player");
    var poll = function (asset, onReady) {
      status.textContent = asset.message || msg.rendering;
      var warning = document.getElementById("phone-warning");
      warning.textContent = asset.phone_warning || "";
      warning.hidden = !asset.phone_warning;
      if (asset.status === "ready") {
        player.src = asset.url; player.hidden = false;
        if (onReady) { onReady(asset); }
        return;
      }
      if (asset.status === "failed" || asset.error && !asset.id) { return; }
      setTimeout(function () {
        get(form.dataset.audioUrl.replace(/0$/, asset.id)).then(function (a) { poll(a, onReady); });
      }, 1000);
    };
    document.getElementById("listen").addEventListener("click", function () {
      status.textContent = msg.rendering;
      post(form.dataset.speakUrl, {title: form.title.value, body: form.body.value}).then(function (a) {
        if (a.error) { status.textContent = a.error; return; }
        poll(a);
      });
    });

    var recInfo = document.getElementById("recording-info");
    var recRemove = document.getElementById("recording-remove");
    var attach = function (asset) {
      document.getElementById("recording_id").value = asset.id;
      recInfo.textContent = fill(msg.attached, {name: asset.name || "", seconds: asset.seconds});
      recRemove.hidden = false;
      poll(asset);
    };
    var sendFile = function (blob, name) {
      var data = new FormData();
      data.append("file", blob, name);
      status.textContent = msg.rendering;
      return post(form.dataset.uploadUrl, data).then(function (a) {
        if (a.error) { status.textContent = a.error; status.setAttribute("role", "alert"); return; }
        status.removeAttribute("role");
        attach(a);
      });
    };
    recRemove.addEventListener("click", function () {
      document.getElementById("recording_id").value = "";
      recInfo.textContent = ""; recRemove.hidden = true;
    });
    document.getElementById("upload-button").addEventListener("click", function () {
      var input = document.getElementById("upload-file");
      if (!input.files.length) { status.textContent = msg.upload_none; return; }
      sendFile(input.files[0], input.files[0].name);
    });

    var recorder = null;
    var recordBtn = document.getElementById("record");
    var stopBtn = document.getElementById("record-stop");
    recordBtn.addEventListener("click", function () {
      if (!navigator.mediaDevices || !window.MediaRecorder) { status.textContent = msg.mic_unavailable; return; }
      navigator.mediaDevices.getUserMedia({audio: true}).then(function (stream) {
        var chunks = [];
        recorder = new MediaRecorder(stream);
        recorder.ondataavailable = function (e) { if (e.data.size) { chunks.push(e.data); } };
        recorder.onstop = function () {
          stream.getTracks().forEach(function (tr) { tr.stop(); });
          var type = recorder.mimeType || "audio/webm";
          sendFile(new Blob(chunks, {type: type}), "micro." + (type.indexOf("ogg") >= 0 ? "ogg" : "webm"));
        };
        recorder.start();
        status.textContent = msg.recording_now;
        recordBtn.hidden = true; stopBtn.hidden = false; stopBtn.focus();
      }).catch(function () { status.textContent = msg.mic_unavailable; });
    });
    stopBtn.addEventListener("click", function () {
      if (recorder) { recorder.stop(); }
      stopBtn.hidden = true; recordBtn.hidden = false;
    });

    // One recording per extra language of the commune (no synthetic voice exists for them): the same
    // upload path, kept in recording_<code>; the list of languages still missing one follows along.
    var missingLine = document.getElementById("languages-missing");
    var showMissing = function () {
      var names = [];
      Array.prototype.forEach.call(document.querySelectorAll(".language-recording"), function (box) {
        if (!document.getElementById("recording_" + box.dataset.lang).value) { names.push(box.dataset.name); }
      });
      missingLine.textContent = names.length ? fill(missingLine.dataset.template, {names: names.join(", ")})
                                             : missingLine.dataset.done;
    };
    Array.prototype.forEach.call(document.querySelectorAll("button.language-upload"), function (b) {
      b.addEventListener("click", function () {
        var code = b.dataset.lang;
        var input = document.getElementById("upload-" + code);
        var info = document.getElementById("recording-info-" + code);
        if (!input.files.length) { info.textContent = msg.upload_none; return; }
        var data = new FormData();
        data.append("file", input.files[0], input.files[0].name);
        info.textContent = msg.rendering;
        post(form.dataset.uploadUrl, data).then(function (a) {
          if (a.error) { info.textContent = a.error; info.setAttribute("role", "alert"); return; }
          info.removeAttribute("role");
          document.getElementById("recording_" + code).value = a.id;
          info.textContent = fill(msg.attached, {name: a.name || "", seconds: a.seconds});
          showMissing();
        });
      });
    });
  }

  // Copy buttons (private links are shown once): the clipboard, or the text selected to copy by hand.
  Array.prototype.forEach.call(document.querySelectorAll("button[data-copy]"), function (b) {
    b.addEventListener("click", function () {
      var input = document.getElementById(b.dataset.copy);
      var done = function () { document.getElementById("copy-status").textContent = b.dataset.done; };
      input.select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
      } else { document.execCommand("copy"); done(); }
    });
  });

  // Forms that undo something ask first (data-confirm holds the question).
  Array.prototype.forEach.call(document.querySelectorAll("form[data-confirm]"), function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.dataset.confirm)) { e.preventDefault(); }
    });
  });

  // An announcement's progress ----------------------------------------------------------------
  var progress = document.getElementById("progress");
  if (progress) {
    var labels = JSON.parse(document.getElementById("channel-labels").textContent);
    var refresh = function () {
      get(progress.dataset.url).then(function (p) {
        var badge = document.getElementById("ann-status");
        badge.textContent = p.status_label; badge.className = "badge " + p.badge;
        document.getElementById("progress-total").textContent = p.total ? fill(labels.total, {total: p.total}) : labels.none;
        var body = document.querySelector("#progress-table tbody");
        body.innerHTML = "";
        Object.keys(p.channels).forEach(function (channel) {
          p.channels[channel].forEach(function (row) {
            var tr = document.createElement("tr");
            [labels[channel] || channel, row.label, String(row.count)].forEach(function (text, i) {
              var td = document.createElement("td"); td.textContent = text;
              if (i === 2) { td.className = "num"; }
              tr.appendChild(td);
            });
            body.appendChild(tr);
          });
        });
        document.getElementById("cancel-form").hidden = !p.cancellable;
        if (!p.done) { setTimeout(refresh, 2000); }
      });
    };
    setTimeout(refresh, 1000);
  }
})();
