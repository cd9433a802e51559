// One project: live render progress while it is queued or rendering (by polling GET, as the SDK does),
// then the result playing beside its input, with download and delete.

import { api, ApiError } from "./api.js";
import { credits, dateTime, isFinished, modeLabel, seconds, statusLabel } from "./format.js";

const POLL_MS = 1000;

const $ = (id) => document.getElementById(id);

/** The `face` the project was created with, in words. */
function speakerLabel(face) {
  if (!face) return "Automatic";
  if (Number.isInteger(face.index)) return `Person ${face.index} (counting from 0 in order of appearance)`;
  const when = face.time === undefined ? "where they first appear" : `at ${seconds(face.time)}`;
  return `The face at ${face.x}, ${face.y} px, ${when}`;
}

export class ProjectView {
  /**
   * @param {object} app  inputsFor(id): {video, start}|undefined (what this tab uploaded),
   *   confirmDelete(project): Promise<boolean>, refreshBalance(), onUnauthorized(message).
   */
  constructor(app) {
    this.app = app;
    this.project = null;
    this.token = 0;
    this.input = $("input-video");
    this.result = $("result-video");
    this.inputStart = 0;

    // The input follows the result: one press plays both, seeking the result seeks the input.
    this.result.addEventListener("play", () => this.input.getAttribute("src") && this.input.play().catch(() => {}));
    this.result.addEventListener("pause", () => this.input.pause());
    this.result.addEventListener("seeked", () => this.alignInput());
    this.result.addEventListener("ratechange", () => {
      this.input.playbackRate = this.result.playbackRate;
    });
    this.input.addEventListener("loadedmetadata", () => this.alignInput());
    $("play-both").addEventListener("click", () => {
      this.result.currentTime = 0;
      this.alignInput();
      this.result.play().catch(() => {});
    });
    $("delete-project").addEventListener("click", async () => {
      if (this.project && (await this.app.confirmDelete(this.project))) location.hash = "#/history";
    });
  }

  alignInput() {
    if (this.input.getAttribute("src") && this.input.readyState > 0) {
      this.input.currentTime = this.inputStart + this.result.currentTime;
    }
  }

  show(id) {
    const token = ++this.token;
    this.project = null;
    $("project-title").textContent = "Loading…";
    $("project-meta").replaceChildren();
    $("project-error").hidden = true;
    $("render-progress-box").hidden = true;
    $("compare").hidden = true;
    $("play-both").hidden = true;
    $("download-link").hidden = true;
    $("delete-project").hidden = true;
    this.setVideo(this.result, null);
    this.setVideo(this.input, null);
    this.poll(id, token, null);
  }

  hide() {
    this.token++;
    this.result.pause();
    this.input.pause();
  }

  async poll(id, token, previousStatus) {
    let project;
    try {
      project = await api.project(id);
    } catch (error) {
      if (token !== this.token) return;
      if (!(error instanceof ApiError)) throw error;
      if (error.status === 401) {
        this.app.onUnauthorized("The server no longer accepts this key. Sign in again.");
        return;
      }
      if (error.status === 404) {
        $("project-title").textContent = "Project not found";
        this.showError("This project does not exist, or it was deleted.");
        return;
      }
      // A passing network hiccup must not end live progress; keep asking.
      this.showError(`${error.message} Retrying…`);
      setTimeout(() => this.poll(id, token, previousStatus), POLL_MS * 3);
      return;
    }
    if (token !== this.token) return;
    this.project = project;
    this.render(project);
    if (!isFinished(project.status)) {
      setTimeout(() => this.poll(id, token, project.status), POLL_MS);
    } else if (previousStatus && !isFinished(previousStatus)) {
      this.app.refreshBalance(); // settled or refunded just now
    }
  }

  render(project) {
    $("project-title").textContent = project.name || "Untitled lip sync";
    document.title = `${$("project-title").textContent} · openlipsync`;
    $("delete-project").hidden = false;
    const length = project.end_seconds - project.start_seconds;
    const rows = [
      ["Status", statusLabel(project.status)],
      ["Mode", modeLabel(project)],
      ["Range", `${seconds(length)} (${seconds(project.start_seconds)} to ${seconds(project.end_seconds)})`],
      [project.status === "complete" ? "Credits charged" : "Credits", credits(project.credits_charged)],
      ["Frame rate", project.status === "complete" ? `${Number(project.fps.toFixed(2))} fps` : "–"],
      ["Created", dateTime(project.created_at)],
    ];
    rows.push(["Speaker", speakerLabel(project.face)]);
    // The engine's remarks, e.g. frames without a face left as they were, or a fallback to lite.
    if (Array.isArray(project.notes) && project.notes.length) rows.push(["Notes", project.notes.join(" · ")]);
    $("project-meta").replaceChildren(
      ...rows.map(([term, value]) => {
        const row = document.createElement("div");
        const dt = document.createElement("dt");
        const dd = document.createElement("dd");
        dt.textContent = term;
        dd.textContent = value;
        if (term === "Status") dd.className = `status status-${project.status}`;
        row.append(dt, dd);
        return row;
      }),
    );
    this.renderProgress(project);
    if (project.status === "error" || project.status === "canceled") {
      const why = project.error ? `${project.error.message} (${project.error.code})` : "The render was canceled.";
      this.showError(`${why} The credits were refunded.`);
    } else {
      $("project-error").hidden = true;
    }
    if (project.status === "complete") this.renderResult(project);
  }

  renderProgress(project) {
    const box = $("render-progress-box");
    const bar = $("render-progress");
    const label = $("render-progress-label");
    box.hidden = isFinished(project.status);
    if (project.status === "rendering" && typeof project.progress === "number") {
      bar.value = project.progress;
      label.textContent = `Rendering ${Math.round(project.progress * 100)}%`;
    } else {
      bar.removeAttribute("value"); // indeterminate until a worker reports progress
      label.textContent = project.status === "rendering" ? "Rendering…" : "Queued: waiting for a worker…";
    }
  }

  renderResult(project) {
    const download = project.downloads[0];
    if (!download) return;
    $("compare").hidden = false;
    $("play-both").hidden = false;
    const link = $("download-link");
    link.href = download.url;
    link.hidden = false;
    this.setVideo(this.result, download.url);
    const inputs = this.app.inputsFor(project.id);
    this.inputStart = inputs ? inputs.start : 0;
    this.setVideo(this.input, inputs?.video || null);
    this.input.hidden = !inputs?.video;
    $("input-missing").hidden = Boolean(inputs?.video);
  }

  setVideo(element, src) {
    if (src) {
      if (element.getAttribute("src") !== src) element.src = src;
      return;
    }
    element.pause();
    element.removeAttribute("src");
    element.load();
  }

  showError(message) {
    const box = $("project-error");
    box.textContent = message;
    box.hidden = false;
  }
}
