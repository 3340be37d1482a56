/* The phone simulator: a basic phone in the browser. Texts and calls go to console endpoints
   that sign and dispatch the Twilio webhooks; this script only shows what comes back. */
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var msg = JSON.parse(document.getElementById("messages").textContent);
  var phoneEl = document.getElementById("phone");
  var numberEl = document.getElementById("sim-number");
  var thread = document.getElementById("sms-thread");
  var screen = document.getElementById("call-screen");
  var audio = document.getElementById("call-audio");
  var callBtn = document.getElementById("sim-call");
  var hangupBtn = document.getElementById("sim-hangup");
  var recordPanel = document.getElementById("record-panel");
  var call = null;       // {sid, waiting, gather: {numDigits, finishOnKey, timeout}}
  var digits = "";
  var digitTimer = null;
  var lastOutbox = 0;
  var playQueue = [];

  function post(url, data) {
    var isForm = data instanceof FormData;
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: isForm ? {"X-CSRF-Token": csrf} : {"X-CSRF-Token": csrf, "Content-Type": "application/json"},
      body: isForm ? data : JSON.stringify(data)
    }).then(function (r) {
      if (r.status === 401) { window.location.reload(); throw new Error("session expired"); }
      return r.json();
    });
  }
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, k) { return values[k]; });
  }
  function bubble(text, kind, label) {
    var empty = thread.querySelector(".empty");
    if (empty) { empty.remove(); }
    var li = document.createElement("li");
    li.className = kind;
    li.setAttribute("aria-label", label);
    li.textContent = text;
    thread.appendChild(li);
    thread.scrollTop = thread.scrollHeight;
  }
  function line(text, cls) {
    var p = document.createElement("p");
    if (cls) { p.className = cls; }
    p.textContent = text;
    screen.appendChild(p);
    screen.scrollTop = screen.scrollHeight;
  }

  // SMS ------------------------------------------------------------------------------------
  document.getElementById("sim-send").addEventListener("click", function () {
    var text = document.getElementById("sim-text");
    if (!text.value.trim()) { return; }
    var body = text.value;
    bubble(body, "out", msg.outgoing);
    text.value = "";
    post(phoneEl.dataset.smsUrl, {phone: numberEl.value, body: body}).then(function (r) {
      if (r.error) { bubble(r.error, "in error", msg.incoming); return; }
      r.replies.forEach(function (reply) { bubble(reply, "in reply", msg.reply); });
    });
  });
  function pollOutbox() {
    var url = phoneEl.dataset.messagesUrl + "?phone=" + encodeURIComponent(numberEl.value) + "&after=" + lastOutbox;
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}}).then(function (r) {
      if (r.status === 401) { window.location.reload(); throw new Error("session expired"); }
      return r.json();
    }).then(function (r) {
      (r.messages || []).forEach(function (m) {
        lastOutbox = Math.max(lastOutbox, m.id);
        if (m.channel === "sms") { bubble(m.body, "in outbox", msg.incoming); }
        if (m.channel === "voice" && !call) { ring(m.id); }
      });
    }).catch(function () {}).then(function () { setTimeout(pollOutbox, 2000); });
  }
  numberEl.addEventListener("change", function () { lastOutbox = 0; thread.innerHTML = ""; });
  pollOutbox();

  // Calls ----------------------------------------------------------------------------------
  var ringing = document.getElementById("ringing");
  var ringingId = null;
  function ring(id) { ringingId = id; ringing.hidden = false; }
  function answered(url) {
    ringing.hidden = true;
    var id = ringingId;
    ringingId = null;
    screen.innerHTML = "";
    return post(url, {phone: numberEl.value, id: id});
  }
  document.getElementById("sim-answer").addEventListener("click", function () {
    callBtn.disabled = true; hangupBtn.disabled = false;
    answered(phoneEl.dataset.answerUrl).then(function (r) {
      if (!r.call) { line(r.error || "?", "error"); callBtn.disabled = false; hangupBtn.disabled = true; return; }
      call = {sid: r.call};
      show(r);
    });
  });
  document.getElementById("sim-decline").addEventListener("click", function () {
    answered(phoneEl.dataset.declineUrl).then(function (r) { if (r.error) { line(r.error, "error"); } line(msg.ended, "ended"); });
  });

  function playNext() {
    if (!playQueue.length || !audio.paused && !audio.ended && audio.src) { return; }
    audio.src = playQueue.shift();
    audio.play().catch(function () {});
  }
  audio.addEventListener("ended", playNext);

  function show(r) {
    if (r.error) { line(r.error, "error"); }
    (r.events || []).forEach(function (e) {
      if (e.type === "say") { line(msg.say + ": " + e.text); }
      else if (e.type === "play") { line(msg.play + ": " + (e.text || msg.play_untitled)); playQueue.push(e.url); }
      else if (e.type === "dial") { line(fill(msg.dial, {number: e.number})); }
      else if (e.type === "gather") { line(msg.waiting_digits, "waiting"); }
      else if (e.type === "record") { line(msg.waiting_record, "waiting"); }
      else if (e.type === "pause") { line("…"); }
    });
    playNext();
    if (r.ended) { end(); return; }
    call.waiting = r.waiting;
    var gather = (r.events || []).filter(function (e) { return e.type === "gather"; }).pop();
    if (gather) { call.gather = gather; }
    recordPanel.hidden = call.waiting !== "Record";
  }
  function end() {
    line(msg.ended, "ended");
    call = null;
    callBtn.disabled = false; hangupBtn.disabled = true; recordPanel.hidden = true;
  }
  function step(path, data) {
    if (!call) { return Promise.resolve(); }
    return post(phoneEl.dataset.callUrl + "/" + call.sid + path, data).then(show);
  }
  callBtn.addEventListener("click", function () {
    screen.innerHTML = "";
    playQueue = []; audio.pause();
    var hotline = document.getElementById("sim-hotline").value;
    line(fill(msg.in_call, {number: hotline}));
    callBtn.disabled = true; hangupBtn.disabled = false;
    post(phoneEl.dataset.callUrl, {phone: numberEl.value, to: hotline}).then(function (r) {
      if (!r.call) { line(r.error || "?", "error"); callBtn.disabled = false; hangupBtn.disabled = true; return; }
      call = {sid: r.call};
      show(r);
    });
  });
  hangupBtn.addEventListener("click", function () {
    playQueue = []; audio.pause();
    step("/hangup", {});
  });
  function submitDigits(finishedOnKey) {
    clearTimeout(digitTimer);
    var sent = digits;
    digits = "";
    playQueue = []; audio.pause();
    return step("/digits", {digits: sent, finished_on_key: finishedOnKey || ""});
  }
  Array.prototype.forEach.call(document.querySelectorAll(".keypad .key"), function (btn) {
    btn.addEventListener("click", function () {
      var key = btn.dataset.key;
      if (!call || call.waiting !== "Gather") { return; }
      var g = call.gather || {};
      var finish = g.finishOnKey === undefined ? "#" : g.finishOnKey;
      if (finish && key === finish && digits) { submitDigits(key); return; }
      digits += key;
      line("▶ " + key);
      if (g.numDigits && digits.length >= parseInt(g.numDigits, 10)) { submitDigits(""); return; }
      clearTimeout(digitTimer);
      digitTimer = setTimeout(function () { submitDigits(""); }, (g.timeout || 5) * 1000);
    });
  });
  document.getElementById("sim-timeout").addEventListener("click", function () {
    if (call && call.waiting === "Gather") { digits = ""; submitDigits(""); }
  });

  function sendRecording(blob, name) {
    var data = new FormData();
    data.append("file", blob, name);
    recordPanel.hidden = true;
    return step("/record", data);
  }
  document.getElementById("sim-record-send").addEventListener("click", function () {
    var input = document.getElementById("sim-record-file");
    if (!input.files.length) { line(msg.upload_none, "error"); return; }
    sendRecording(input.files[0], input.files[0].name);
  });
  var recorder = null;
  var recBtn = document.getElementById("sim-record");
  var recStop = document.getElementById("sim-record-stop");
  recBtn.addEventListener("click", function () {
    if (!navigator.mediaDevices || !window.MediaRecorder) { line(msg.mic_unavailable, "error"); return; }
    navigator.mediaDevices.getUserMedia({audio: true}).then(function (stream) {
      var chunks = [];
      recorder = new MediaRecorder(stream);
      recorder.ondataavailable = function (e) { if (e.data.size) { chunks.push(e.data); } };
      recorder.onstop = function () {
        stream.getTracks().forEach(function (tr) { tr.stop(); });
        sendRecording(new Blob(chunks, {type: recorder.mimeType || "audio/webm"}), "micro.webm");
      };
      recorder.start();
      line(msg.recording_now);
      recBtn.hidden = true; recStop.hidden = false; recStop.focus();
    }).catch(function () { line(msg.mic_unavailable, "error"); });
  });
  recStop.addEventListener("click", function () {
    if (recorder) { recorder.stop(); }
    recStop.hidden = true; recBtn.hidden = false;
  });
})();
