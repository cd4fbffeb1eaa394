// The gateway's page: loads the model list, sends the text to /v1/translate and shows the answer.
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

async function loadModels() {
  const select = $("model");
  const response = await fetch("/v1/models", { headers: headers() });
  if (!response.ok) {
    select.innerHTML = "<option value=''>(default)</option>";
    showError(await errorMessage(response));
    return;
  }
  const body = await response.json();
  select.innerHTML = "";
  for (const m of body.models) {
    const option = document.createElement("option");
    option.value = m.id;
    const bleu = m.bleu === null ? "BLEU n/a" : `BLEU ${m.bleu}`;
    option.textContent = `${m.id} (${m.backend}, ${m.quantization}, ${bleu})`;
    option.selected = m.default;
    select.appendChild(option);
  }
  document.body.dataset.models = String(body.models.length);
}

async function translate(event) {
  event.preventDefault();
  showError("");
  const text = $("source").value;
  if (!text.trim()) {
    showError("Type a text to translate.");
    return;
  }
  const request = { text: text, beam_size: Number($("beam").value) };
  if ($("model").value) request.model = $("model").value;
  $("translate").disabled = true;
  $("translation").textContent = "…";
  const started = performance.now();
  try {
    const response = await fetch("/v1/translate", { method: "POST", headers: headers(), body: JSON.stringify(request) });
    const elapsed = performance.now() - started;
    if (!response.ok) {
      $("translation").textContent = "";
      showError(await errorMessage(response));
      return;
    }
    const body = await response.json();
    $("translation").textContent = body.translation;
    $("latency").textContent = `${elapsed.toFixed(0)} ms in the browser, ${body.timings.total_ms.toFixed(1)} ms in the gateway (${body.model})`;
    document.body.dataset.state = "translated";
  } catch (e) {
    $("translation").textContent = "";
    showError(`The gateway could not be reached: ${e}`);
  } finally {
    $("translate").disabled = false;
  }
}

$("translate-form").addEventListener("submit", translate);
$("api-key").addEventListener("change", loadModels);
loadModels();
