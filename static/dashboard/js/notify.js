// Getting an operator's attention: a short chime (WebAudio), a browser notification
// (permission asked from a click, once) and a blinking tab title until they look.

let audio = null;

function audioContext() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return null;
  if (!audio) audio = new Ctx();
  return audio;
}

// Browsers only let a page make sound after a user gesture: unlock on the first one.
export function unlockOnGesture() {
  const unlock = () => {
    const ctx = audioContext();
    if (ctx && ctx.state === "suspended") ctx.resume();
    window.removeEventListener("pointerdown", unlock, true);
    window.removeEventListener("keydown", unlock, true);
  };
  window.addEventListener("pointerdown", unlock, true);
  window.addEventListener("keydown", unlock, true);
}

export function chime() {
  const ctx = audioContext();
  if (!ctx || ctx.state !== "running") return;
  const now = ctx.currentTime;
  for (const [i, freq] of [880, 1318.5].entries()) {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = "sine";
    osc.frequency.value = freq;
    const start = now + i * 0.12;
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.25, start + 0.01);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.35);
    osc.connect(gain).connect(ctx.destination);
    osc.start(start);
    osc.stop(start + 0.4);
  }
}

export function notificationsWanted() {
  return "Notification" in window && Notification.permission === "default";
}

export async function askPermission() {
  if (!("Notification" in window)) return "denied";
  try {
    return await Notification.requestPermission();
  } catch {
    return "denied";
  }
}

export function desktopNotify(title, body, onClick) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  if (document.visibilityState === "visible" && document.hasFocus()) return;
  try {
    const note = new Notification(title, { body, tag: "parley-chat", renotify: true });
    note.onclick = () => {
      window.focus();
      onClick?.();
      note.close();
    };
  } catch {
    // Some browsers only allow notifications from a service worker; sound and title still work.
  }
}

const baseTitle = document.title;
let blinkTimer = null;
let blinkCount = 0;

export function blinkTitle(text) {
  blinkCount += 1;
  if (blinkTimer) return;
  let on = false;
  blinkTimer = setInterval(() => {
    on = !on;
    document.title = on ? `(${blinkCount}) ${text}` : baseTitle;
  }, 800);
  document.title = `(${blinkCount}) ${text}`;
}

export function stopBlinking() {
  clearInterval(blinkTimer);
  blinkTimer = null;
  blinkCount = 0;
  document.title = baseTitle;
}

export function isBlinking() {
  return blinkTimer !== null;
}
