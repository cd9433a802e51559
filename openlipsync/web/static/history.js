// The key's projects, newest first, from GET /v1/video-projects?limit=50 (an openlipsync addition to
// the Magic Hour API). Refreshes itself while any project is still queued or rendering.

import { api, ApiError } from "./api.js";
import { credits, dateTime, isFinished, modeLabel, seconds, statusLabel } from "./format.js";

const REFRESH_MS = 2000;

const $ = (id) => document.getElementById(id);

function cell(text, label) {
  const td = document.createElement("td");
  td.dataset.label = label;
  td.textContent = text;
  return td;
}

export class HistoryView {
  /** @param {object} app  confirmDelete(project): Promise<boolean>, onUnauthorized(message). */
  constructor(app) {
    this.app = app;
    this.token = 0;
    $("refresh-history").addEventListener("click", () => this.show());
  }

  show() {
    this.load(++this.token);
  }

  hide() {
    this.token++;
  }

  async load(token) {
    let items;
    try {
      ({ items } = await api.projects());
    } catch (error) {
      if (token !== this.token) return;
      if (!(error instanceof ApiError)) throw error;
      if (error.status === 401) {
        this.app.onUnauthorized("The server no longer accepts this key. Sign in again.");
        return;
      }
      const box = $("history-error");
      box.textContent = `Could not load the history: ${error.message}`;
      box.hidden = false;
      return;
    }
    if (token !== this.token) return;
    $("history-error").hidden = true;
    this.render(items);
    if (items.some((project) => !isFinished(project.status))) {
      setTimeout(() => token === this.token && this.load(token), REFRESH_MS);
    }
  }

  render(items) {
    $("history-empty").hidden = items.length > 0;
    $("history-table").hidden = items.length === 0;
    $("history-body").replaceChildren(...items.map((project) => this.row(project)));
  }

  row(project) {
    const tr = document.createElement("tr");
    tr.dataset.projectId = project.id;
    const name = document.createElement("th");
    name.scope = "row";
    name.dataset.label = "Name";
    const open = document.createElement("a");
    open.href = `#/p/${encodeURIComponent(project.id)}`;
    open.textContent = project.name || "Untitled lip sync";
    name.append(open);

    const status = cell(statusLabel(project.status), "Status");
    const badge = document.createElement("span");
    badge.className = `status status-${project.status}`;
    badge.textContent = status.textContent;
    if (project.status === "rendering" && typeof project.progress === "number") {
      badge.textContent += ` ${Math.round(project.progress * 100)}%`;
    }
    status.replaceChildren(badge);

    const actions = document.createElement("td");
    actions.className = "row-actions";
    const openButton = document.createElement("a");
    openButton.className = "button small";
    openButton.href = open.href;
    openButton.textContent = "Open";
    openButton.setAttribute("aria-label", `Open ${open.textContent}`);
    actions.append(openButton);
    const download = project.status === "complete" && project.downloads[0];
    if (download) {
      const link = document.createElement("a");
      link.className = "button small";
      link.href = download.url;
      link.download = "";
      link.textContent = "Download";
      link.setAttribute("aria-label", `Download ${open.textContent}`);
      actions.append(link);
    }
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "button small danger";
    remove.textContent = "Delete";
    remove.setAttribute("aria-label", `Delete ${open.textContent}`);
    remove.addEventListener("click", async () => {
      if (await this.app.confirmDelete(project)) this.show();
    });
    actions.append(remove);

    tr.append(
      name,
      status,
      cell(modeLabel(project), "Mode"),
      cell(seconds(project.end_seconds - project.start_seconds), "Duration"),
      cell(credits(project.credits_charged), "Credits"),
      cell(dateTime(project.created_at), "Created"),
      actions,
    );
    return tr;
  }
}
