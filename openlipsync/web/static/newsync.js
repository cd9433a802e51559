// The "New lip sync" form: inputs, previews, range, mode with live cost, and the submit sequence
// (upload URLs -> PUT with progress -> POST /v1/lip-sync). Every error lands next to the field it is about.

import { api, ApiError, putFile } from "./api.js";
import { FacePicker } from "./facepick.js";
import { RangeTimeline } from "./timeline.js";
import { clock, credits, estimateCredits, RATES, seconds } from "./format.js";

/** Extensions the API files as video when they carry the audio track (CONTRACT.md 3.1: video as audio). */
const VIDEO_ONLY_EXTENSIONS = new Set(["mp4", "m4v", "mov"]);

/** Which form field an API message is about, by the request field it names. */
const FIELD_PATTERNS = [
  [/\bstart_seconds\b/, "start"],
  [/\bend_seconds\b/, "end"],
  [/\bmax_fps_limit\b/, "fps"],
  [/\b(generation_mode|style)\b/, "mode"],
  [/\baudio_file_path\b/, "audio"],
  [/\b(video_file_path|video_source|youtube_url)\b/, "video"],
  [/\bname\b/, "name"],
  [/\bface\b/, "face"],
];

const $ = (id) => document.getElementById(id);

function extensionOf(fileName) {
  const dot = fileName.lastIndexOf(".");
  return dot < 0 ? "" : fileName.slice(dot + 1).toLowerCase();
}

export class NewSyncForm {
  /**
   * @param {object} app  getBalance(): number|null, onCreated(project, inputs), onUnauthorized(message),
   *   refreshBalance().
   */
  constructor(app) {
    this.app = app;
    this.form = $("new-form");
    this.files = { video: null, audio: null };
    this.previewUrls = { video: null, audio: null };
    /** Uploads already done for a File, so a resubmit after e.g. a 402 does not upload again. */
    this.uploaded = new WeakMap();
    this.busy = false;
    this.fields = {
      video: { input: () => this.activeInput("video"), error: $("video-error") },
      audio: { input: () => this.activeInput("audio"), error: $("audio-error") },
      start: { input: () => $("start-seconds"), error: $("start-error") },
      end: { input: () => $("end-seconds"), error: $("end-error") },
      mode: { input: () => this.form.querySelector("input[name=mode]:checked"), error: $("mode-error") },
      fps: { input: () => $("max-fps"), error: $("fps-error") },
      name: { input: () => $("project-name"), error: $("name-error") },
      face: { input: () => $("face-status"), error: $("face-error") },
      submit: { input: () => $("submit-button"), error: $("submit-error") },
    };

    this.timeline = new RangeTimeline(
      {
        video: $("video-preview"),
        audio: $("audio-preview"),
        timeline: $("timeline"),
        track: $("timeline-track"),
        selection: $("timeline-selection"),
        playhead: $("timeline-playhead"),
        startHandle: $("start-handle"),
        endHandle: $("end-handle"),
        startInput: $("start-seconds"),
        endInput: $("end-seconds"),
        durationLabel: $("timeline-duration"),
        playButton: $("preview-play"),
      },
      () => this.edited("start", "end"),
      clock,
    );

    this.facePicker = new FacePicker(
      {
        video: $("video-preview"),
        marker: $("face-marker"),
        panel: $("face-pick"),
        status: $("face-status"),
        clear: $("face-clear"),
      },
      () => this.edited("face"),
    );

    for (const kind of ["video", "audio"]) {
      this.form.querySelectorAll(`input[name=${kind}-source]`).forEach((radio) => {
        radio.addEventListener("change", () => this.showSource(kind));
      });
      $(`${kind}-file`).addEventListener("change", (event) => this.setFile(kind, event.target.files[0] || null));
      this.wireDrop(kind);
    }
    $("video-url").addEventListener("change", () => this.previewUrl("video", $("video-url").value.trim()));
    $("audio-url").addEventListener("change", () => this.previewUrl("audio", $("audio-url").value.trim()));
    $("youtube-url").addEventListener("input", () => this.clearError("video"));

    const video = $("video-preview");
    video.addEventListener("loadedmetadata", () => {
      $("video-preview-box").hidden = false;
      this.timeline.setDuration(video.duration);
      this.facePicker.setAvailable(video.videoWidth > 0);
      this.facePicker.place();
    });
    video.addEventListener("error", () => {
      if (!video.getAttribute("src")) return;
      $("video-preview-box").hidden = true;
      this.timeline.setDuration(null);
      this.facePicker.setAvailable(false);
      this.setError("video", "This video cannot be previewed in the browser; the server may still read it.");
    });
    const audio = $("audio-preview");
    audio.addEventListener("loadedmetadata", () => {
      $("audio-duration").textContent = Number.isFinite(audio.duration) ? `Length ${seconds(audio.duration)}` : "";
    });
    audio.addEventListener("error", () => {
      if (!audio.getAttribute("src")) return;
      audio.hidden = true;
      this.setError("audio", "This audio cannot be previewed in the browser; the server may still read it.");
    });

    this.form.querySelectorAll("input[name=mode]").forEach((radio) => {
      radio.addEventListener("change", () => this.edited("mode"));
    });
    for (const [field, id] of [["fps", "max-fps"], ["name", "project-name"]]) {
      $(id).addEventListener("input", () => this.clearError(field));
    }
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.updateCosts();
  }

  source(kind) {
    return this.form.querySelector(`input[name=${kind}-source]:checked`).value;
  }

  activeInput(kind) {
    const source = this.source(kind);
    if (source === "file") return $(`${kind}-file`);
    return source === "youtube" ? $("youtube-url") : $(`${kind}-url`);
  }

  showSource(kind) {
    const source = this.source(kind);
    this.form.querySelectorAll("[data-source-panel]").forEach((panel) => {
      const [panelKind, panelSource] = panel.dataset.sourcePanel.split(":");
      if (panelKind === kind) panel.hidden = panelSource !== source;
    });
    this.clearError(kind);
    if (source === "file") this.showPreview(kind, this.previewUrls[kind]);
    else if (source === "url") this.previewUrl(kind, $(`${kind}-url`).value.trim());
    else this.showPreview(kind, null);
  }

  wireDrop(kind) {
    const zone = $(`${kind}-drop`);
    zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("dragging");
      const file = event.dataTransfer.files[0];
      if (file) this.setFile(kind, file);
    });
  }

  setFile(kind, file) {
    this.files[kind] = file;
    this.clearError(kind);
    $(`${kind}-upload`).hidden = true;
    $(`${kind}-file-name`).textContent = file ? `${file.name} · ${(file.size / 1e6).toFixed(1)} MB` : "";
    if (this.previewUrls[kind]) URL.revokeObjectURL(this.previewUrls[kind]);
    this.previewUrls[kind] = file ? URL.createObjectURL(file) : null;
    this.showPreview(kind, this.previewUrls[kind]);
  }

  previewUrl(kind, url) {
    this.clearError(kind);
    this.showPreview(kind, /^https?:\/\//i.test(url) ? url : null);
  }

  showPreview(kind, src) {
    const element = $(`${kind}-preview`);
    if (kind === "audio") {
      $("audio-duration").textContent = "";
      element.hidden = !src;
    } else {
      $("video-preview-box").hidden = true;
      this.timeline.setDuration(null);
      this.facePicker.setAvailable(false); // a new video: a point on the old one means nothing
    }
    if (src) element.src = src;
    else {
      element.removeAttribute("src");
      element.load();
    }
  }

  /** Lite/standard/pro prices for the current range, and the total for the chosen mode. */
  updateCosts() {
    const { start, end } = this.timeline.range;
    const valid = Number.isFinite(start) && Number.isFinite(end) && end > start;
    for (const mode of Object.keys(RATES)) {
      this.form.querySelector(`[data-cost=${mode}]`).textContent = valid
        ? credits(estimateCredits(start, end, mode))
        : `${RATES[mode]} per frame`;
    }
    const mode = this.fields.mode.input().value;
    const estimate = $("estimate");
    const balance = this.app.getBalance();
    estimate.replaceChildren();
    $("range-length").textContent = valid ? `Length ${seconds(end - start)}` : "";
    if (!valid) {
      estimate.textContent = "Choose a range to see the cost.";
      return;
    }
    const total = estimateCredits(start, end, mode);
    const strong = document.createElement("strong");
    strong.id = "estimate-credits";
    strong.textContent = credits(total);
    estimate.append("Estimated cost ", strong);
    if (balance !== null) estimate.append(` of your ${credits(balance)}`);
    estimate.classList.toggle("short", balance !== null && total > balance);
  }

  /** A person changed these fields: their errors, and a refusal of the whole form, are stale now. */
  edited(...fields) {
    for (const field of [...fields, "submit"]) this.clearError(field);
    this.updateCosts();
  }

  setError(field, message) {
    const { input, error } = this.fields[field];
    error.textContent = message;
    const element = input();
    if (element && element.type !== "submit") element.setAttribute("aria-invalid", "true");
  }

  clearError(field) {
    const { input, error } = this.fields[field];
    error.textContent = "";
    const element = input();
    if (element) element.removeAttribute("aria-invalid");
  }

  clearErrors() {
    for (const field of Object.keys(this.fields)) this.clearError(field);
  }

  focusFirstError() {
    for (const { input, error } of Object.values(this.fields)) {
      if (error.textContent) {
        input()?.focus();
        return;
      }
    }
  }

  /** Problems the page can see before asking the server; the server checks everything again. */
  validate() {
    const { start, end } = this.timeline.range;
    if (this.source("video") === "file" && !this.files.video) this.setError("video", "Choose a video file.");
    if (this.source("video") !== "file" && !this.activeInput("video").value.trim()) {
      this.setError("video", this.source("video") === "youtube" ? "Paste a YouTube link." : "Paste a video URL.");
    }
    if (this.source("audio") === "file" && !this.files.audio) this.setError("audio", "Choose an audio file.");
    if (this.source("audio") === "url" && !$("audio-url").value.trim()) this.setError("audio", "Paste an audio URL.");
    if (!Number.isFinite(start) || start < 0) this.setError("start", "Start must be a number of seconds, 0 or more.");
    if (!Number.isFinite(end) || end < 0.1) this.setError("end", "End must be at least 0.1 s.");
    else if (Number.isFinite(start) && end <= start) this.setError("end", "End must be after start.");
    else if (this.timeline.duration !== null && end > this.timeline.duration + 0.05) {
      this.setError("end", `The video is ${seconds(this.timeline.duration)} long.`);
    }
    const fps = $("max-fps").value.trim();
    if (fps && !(Number(fps) >= 1)) this.setError("fps", "Max fps must be 1 or more.");
    return Object.values(this.fields).every(({ error }) => !error.textContent);
  }

  /** Uploads one picked file (once per File) and returns its api-assets/ path. */
  async upload(kind, file) {
    if (this.uploaded.has(file)) return this.uploaded.get(file);
    const extension = extensionOf(file.name);
    const type = kind === "audio" && !VIDEO_ONLY_EXTENSIONS.has(extension) ? "audio" : "video";
    const box = $(`${kind}-upload`);
    const bar = $(`${kind}-progress`);
    const percent = box.querySelector("[data-percent]");
    const show = (fraction) => {
      bar.value = fraction;
      percent.textContent = fraction >= 1 ? "done" : `${Math.round(fraction * 100)}%`;
    };
    show(0);
    box.hidden = false;
    const { items } = await api.uploadUrls([{ type, extension }]);
    await putFile(items[0].upload_url, file, show);
    this.uploaded.set(file, items[0].file_path);
    return items[0].file_path;
  }

  /** The `assets` side of one input: an uploaded path, a URL, or a YouTube link. */
  async asset(kind) {
    const source = this.source(kind);
    try {
      if (source === "file") return await this.upload(kind, this.files[kind]);
    } catch (error) {
      $(`${kind}-upload`).hidden = true;
      throw Object.assign(error, { field: kind });
    }
    return this.activeInput(kind).value.trim();
  }

  async submit() {
    if (this.busy) return;
    this.clearErrors();
    if (!this.validate()) {
      this.focusFirstError();
      return;
    }
    this.busy = true;
    const button = $("submit-button");
    button.disabled = true;
    this.form.setAttribute("aria-busy", "true");
    let body = null;
    try {
      button.textContent = "Uploading…";
      const videoPath = await this.asset("video");
      const audioPath = await this.asset("audio");
      const assets =
        this.source("video") === "youtube"
          ? { video_source: "youtube", youtube_url: videoPath, audio_file_path: audioPath }
          : { video_source: "file", video_file_path: videoPath, audio_file_path: audioPath };
      const { start, end } = this.timeline.range;
      body = { assets, start_seconds: start, end_seconds: end, style: { generation_mode: this.fields.mode.input().value } };
      const fps = $("max-fps").value.trim();
      if (fps) body.max_fps_limit = Number(fps);
      const name = $("project-name").value.trim();
      if (name) body.name = name;
      if (this.facePicker.face) body.face = { ...this.facePicker.face };
      button.textContent = "Starting…";
      const created = await api.createLipSync(body);
      this.app.onCreated(created, {
        video: this.source("video") === "youtube" ? null : this.source("video") === "file" ? this.previewUrls.video : videoPath,
        start,
      });
    } catch (error) {
      this.showApiError(error, body);
    } finally {
      this.busy = false;
      button.disabled = false;
      button.textContent = "Start lip sync";
      this.form.removeAttribute("aria-busy");
    }
  }

  showApiError(error, body) {
    if (!(error instanceof ApiError)) throw error;
    if (error.status === 401) {
      this.app.onUnauthorized("The server no longer accepts this key. Sign in again.");
      return;
    }
    const fields = new Set();
    if (error.field) fields.add(error.field);
    else if (error.status === 402) fields.add("submit");
    else {
      for (const [pattern, field] of FIELD_PATTERNS) if (pattern.test(error.message)) fields.add(field);
      const assets = body?.assets || {};
      const mentions = (value) => value && error.message.includes(value);
      if (mentions(assets.video_file_path) || mentions(assets.youtube_url)) fields.add("video");
      if (mentions(assets.audio_file_path)) fields.add("audio");
    }
    if (fields.size === 0) fields.add("submit");
    const prefix = error.status === 402 ? "Not enough credits. " : "";
    for (const field of fields) this.setError(field, prefix + error.message);
    if (error.status === 402) this.app.refreshBalance();
    this.focusFirstError();
  }
}
