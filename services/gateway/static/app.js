// The gateway's page: loads the model list, sends the text to /v1/translate and shows the answer; in
// side-by-side mode the same text goes to two models at once (say, the student and its teacher), and
// each answer comes with its own latency.
"use strict";

const $ = (id) => document.getElementById(id);

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("api-key").value.trim();
  if (key) h["X-API-Key"] = key;
  return h;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    return body.error ? body.error.message : `HTTP ${response.status}`;
  } catch (e) {
    return `HTTP ${response.status}`;
  }
}

function formatParameters(n) {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)} M` : `${Math.round(n / 1e3)} k`;
}

function describe(m) {
  const bleu = m.bleu === null ? "BLEU n/a" : `BLEU ${m.bleu.toFixed(1)}`;
  return `${m.id} (${formatParameters(m.parameters)} params, ${m.quantization}, ${bleu})`;
}

function fillSelect(select, models, chosen) {
  select.innerHTML = "";
  for (const m of models) {
    const option = document.createElement("option");
    option.value = m.id;
    option.textContent = describe(m);
    option.selected = m.id === chosen;
    select.appendChild(option);
  }
}

async function loadModels() {
  const response = await fetch("/v1/models", { headers: headers() });
  if (!response.ok) {
    $("model").innerHTML = "<option value=''>(default)</option>";
    showError(await errorMessage(response));
    return;
  }
  const body = await response.json();
  const models = body.models;
  const first = body.default_model || (models[0] && models[0].id);
  const other = models.find((m) => m.id !== first);
  fillSelect($("model"), models, first);
  fillSelect($("model-b"), models, other ? other.id : first);
  document.body.dataset.models = String(models.length);
}

async function translateWith(model, text, beam) {
  const request = { text: text, beam_size: beam };
  if (model) request.model = model;
  const started = performance.now();
  const response = await fetch("/v1/translate", { method: "POST", headers: headers(), body: JSON.stringify(request) });
  const elapsed = performance.now() - started;
  if (!response.ok) throw new Error(await errorMessage(response));
  return { body: await response.json(), elapsed: elapsed };
}

function show(suffix, result) {
  $(`translation${suffix}`).textContent = result.body.translation;
  $(`latency${suffix}`).textContent = `${result.elapsed.toFixed(0)} ms in the browser, ` +
    `${result.body.timings.total_ms.toFixed(1)} ms in the gateway (${result.body.model})`;
  $(`name${suffix || "-a"}`).textContent = result.body.model;
}

function setCompare() {
  const on = $("compare").checked;
  $("model-b").disabled = !on;
  $("pane-b").hidden = !on;
  $("results").classList.toggle("compare", on);
}

async function translate(event) {
  event.preventDefault();
  showError("");
  const text = $("source").value;
  if (!text.trim()) {
    showError("Type a text to translate.");
    return;
  }
  const beam = Number($("beam").value);
  const jobs = [translateWith($("model").value, text, beam)];
  if ($("compare").checked) jobs.push(translateWith($("model-b").value, text, beam));
  $("translate").disabled = true;
  $("translation").textContent = "…";
  $("translation-b").textContent = $("compare").checked ? "…" : "";
  try {
    const results = await Promise.all(jobs);
    show("", results[0]);
    if (results.length > 1) show("-b", results[1]);
    document.body.dataset.state = "translated";
  } catch (e) {
    $("translation").textContent = "";
    $("translation-b").textContent = "";
    showError(e instanceof TypeError ? `The gateway could not be reached: ${e}` : e.message);
  } finally {
    $("translate").disabled = false;
  }
}

$("translate-form").addEventListener("submit", translate);
$("api-key").addEventListener("change", loadModels);
$("compare").addEventListener("change", setCompare);
loadModels();
