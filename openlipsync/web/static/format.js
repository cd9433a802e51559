// Numbers shown to people, and the credit estimate, which must equal what the API charges at create time.

/** Credits per frame for each generation mode (CONTRACT.md section 5). */
export const RATES = { lite: 1, standard: 1, pro: 2 };

/** Frames the API prices a range at, whatever the clip's real rate or max fps: 30 per second. */
const ESTIMATE_FPS = 30;

/**
 * The create-time charge, computed exactly as the server does (openlipsync/jobs/credits.py):
 * max(ceil(round((end - start) x 30, 6)), 1) frames x the mode's rate. The rounding to 6 decimals keeps
 * 1 s at 30 frames where the float product is 30.000000000000004; toFixed(6) rounds like Python's round()
 * wherever the result can change the ceiling.
 */
export function estimateCredits(start, end, mode) {
  if (!(end > start)) return 0;
  const frames = Math.max(Math.ceil(Number(((end - start) * ESTIMATE_FPS).toFixed(6))), 1);
  return frames * RATES[mode];
}

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

export function credits(n) {
  return `${integer.format(n)} ${n === 1 ? "credit" : "credits"}`;
}

/** Seconds with at most two decimals and no trailing zeros: 1 s, 1.5 s, 1.04 s. */
export function seconds(s) {
  return `${Number(s.toFixed(2))} s`;
}

/** m:ss for timeline labels. */
export function clock(s) {
  const whole = Math.max(0, Math.round(s));
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

export function dateTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

const STATUS_LABELS = {
  draft: "Draft",
  queued: "Queued",
  rendering: "Rendering",
  complete: "Complete",
  error: "Failed",
  canceled: "Canceled",
};

export function statusLabel(status) {
  return STATUS_LABELS[status] || status;
}

export function isFinished(status) {
  return status === "complete" || status === "error" || status === "canceled";
}

/** The mode of a project: the server adds `generation_mode`; older objects lack it. */
export function modeLabel(project) {
  const mode = project.generation_mode;
  return mode ? mode.charAt(0).toUpperCase() + mode.slice(1) : "–";
}
