// Reading the member code from the camera: the browser's BarcodeDetector where it exists,
// otherwise the vendored @zxing/browser (loaded only then). Returns a stop() function.

const ZXING_URL = new URL("../vendor/zxing-browser-0.2.1.min.js", import.meta.url).href;
const FORMATS = ["qr_code", "code_128", "ean_13", "pdf417"];

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const existing = document.querySelector(`script[src="${src}"]`);
    if (existing) { resolve(); return; }
    const script = document.createElement("script");
    script.src = src;
    script.onload = () => resolve();
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

async function nativeDetector() {
  if (!("BarcodeDetector" in window)) return null;
  try {
    const supported = await window.BarcodeDetector.getSupportedFormats();
    const formats = FORMATS.filter((f) => supported.includes(f));
    return formats.length ? new window.BarcodeDetector({ formats }) : null;
  } catch (err) {
    return null;
  }
}

export async function startScanner(video, onCode) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new Error("camera unavailable");
  }
  const constraints = { video: { facingMode: { ideal: "environment" } }, audio: false };
  const detector = await nativeDetector();
  if (detector) {
    const stream = await navigator.mediaDevices.getUserMedia(constraints);
    video.srcObject = stream;
    await video.play();
    let running = true;
    const stop = () => {
      running = false;
      stream.getTracks().forEach((track) => track.stop());
      video.srcObject = null;
    };
    const tick = async () => {
      if (!running) return;
      try {
        const codes = await detector.detect(video);
        const found = codes.find((c) => /^\d{6,}$/.test(c.rawValue));
        if (found) { stop(); onCode(found.rawValue); return; }
      } catch (err) { /* a frame that is not ready yet */ }
      setTimeout(tick, 150);
    };
    tick();
    return stop;
  }
  await loadScript(ZXING_URL);
  const reader = new window.ZXingBrowser.BrowserMultiFormatReader();
  let done = false;
  const controls = await reader.decodeFromConstraints(constraints, video, (result, _err, ctl) => {
    if (done || !result) return;
    const text = result.getText();
    if (!/^\d{6,}$/.test(text)) return;
    done = true;
    ctl.stop();
    onCode(text);
  });
  return () => { done = true; controls.stop(); };
}
