// The start/end range under the video preview. Two native range inputs share one track so that the
// handles are keyboard-operable and announced by screen readers without any custom widget code; the
// number fields beside them stay the source of truth (they also work when no preview can load).

/** The shortest range the API accepts is 0.1 s (end_seconds >= 0.1 and > start_seconds). */
const MIN_LENGTH = 0.1;

function round2(x) {
  return Math.round(x * 100) / 100;
}

export class RangeTimeline {
  /**
   * @param {object} parts  DOM elements: video, timeline, track, selection, playhead, startHandle,
   *   endHandle, startInput, endInput, durationLabel, playButton, and audio: the new speech, which
   *   "Play range" plays from its beginning over the muted video, as the render will pair them.
   * @param {(range: {start: number, end: number}) => void} onChange  called on every range edit.
   * @param {(s: number) => string} clock  formats the duration label.
   */
  constructor(parts, onChange, clock) {
    Object.assign(this, parts);
    this.onChange = onChange;
    this.clock = clock;
    this.duration = null;
    this.playingRange = false;

    this.startHandle.addEventListener("input", () => this.fromHandle(this.startHandle));
    this.endHandle.addEventListener("input", () => this.fromHandle(this.endHandle));
    for (const input of [this.startInput, this.endInput]) {
      input.addEventListener("input", () => this.fromFields());
    }
    this.track.addEventListener("pointerdown", (event) => this.seekToPointer(event));
    this.video.addEventListener("timeupdate", () => this.onTime());
    this.video.addEventListener("seeked", () => this.onTime());
    this.video.addEventListener("pause", () => {
      this.audio.pause();
      this.setPlaying(false);
    });
    this.playButton.addEventListener("click", () => this.togglePlay());
  }

  /** The range as typed, as numbers (NaN where a field is empty or not a number). */
  get range() {
    const parse = (input) => (input.value.trim() === "" ? NaN : Number(input.value));
    return { start: parse(this.startInput), end: parse(this.endInput) };
  }

  /** A known duration shows the timeline and resets the range to the whole clip; null hides it. */
  setDuration(duration) {
    this.setPlaying(false);
    this.duration = Number.isFinite(duration) && duration > 0 ? round2(duration) : null;
    this.timeline.hidden = this.duration === null;
    if (this.duration !== null) {
      for (const handle of [this.startHandle, this.endHandle]) handle.max = String(this.duration);
      this.startInput.max = String(this.duration);
      this.endInput.max = String(this.duration);
      this.durationLabel.textContent = this.clock(this.duration);
      this.startInput.value = "0";
      this.endInput.value = String(this.duration);
    } else {
      this.startInput.removeAttribute("max");
      this.endInput.removeAttribute("max");
    }
    this.fromFields();
  }

  fromHandle(handle) {
    let start = Number(this.startHandle.value);
    let end = Number(this.endHandle.value);
    if (handle === this.startHandle) {
      start = Math.min(start, round2(end - MIN_LENGTH));
      this.startHandle.value = String(start);
    } else {
      end = Math.max(end, round2(start + MIN_LENGTH));
      this.endHandle.value = String(end);
    }
    // The handle being moved goes on top so that it stays grabbable where the two meet.
    this.startHandle.classList.toggle("on-top", handle === this.startHandle);
    this.startInput.value = String(round2(start));
    this.endInput.value = String(round2(end));
    this.seek(handle === this.startHandle ? start : end);
    this.paint();
  }

  fromFields() {
    const { start, end } = this.range;
    if (this.duration !== null) {
      if (Number.isFinite(start)) this.startHandle.value = String(Math.min(Math.max(start, 0), this.duration));
      if (Number.isFinite(end)) this.endHandle.value = String(Math.min(Math.max(end, 0), this.duration));
    }
    this.paint();
  }

  paint() {
    const { start, end } = this.range;
    this.startHandle.setAttribute("aria-valuetext", `${Number(this.startHandle.value)} seconds`);
    this.endHandle.setAttribute("aria-valuetext", `${Number(this.endHandle.value)} seconds`);
    if (this.duration !== null) {
      const pct = (x) => `${(Math.min(Math.max(x, 0), this.duration) / this.duration) * 100}%`;
      this.timeline.style.setProperty("--start", pct(Number.isFinite(start) ? start : 0));
      this.timeline.style.setProperty("--end", pct(Number.isFinite(end) ? end : this.duration));
    }
    this.onChange(this.range);
  }

  seek(time) {
    if (this.duration === null || this.video.readyState === 0) return;
    this.video.currentTime = Math.min(time, Math.max(this.duration - 0.01, 0));
  }

  seekToPointer(event) {
    if (this.duration === null) return;
    const box = this.track.getBoundingClientRect();
    this.seek(((event.clientX - box.left) / box.width) * this.duration);
  }

  onTime() {
    if (this.duration === null) return;
    const t = this.video.currentTime;
    this.playhead.style.left = `${(Math.min(t, this.duration) / this.duration) * 100}%`;
    const { end } = this.range;
    if (this.playingRange && Number.isFinite(end) && t >= end) {
      this.video.pause();
      this.seek(this.range.start || 0);
    }
  }

  togglePlay() {
    if (this.playingRange) {
      this.video.pause();
      return;
    }
    const { start } = this.range;
    this.seek(Number.isFinite(start) ? start : 0);
    this.setPlaying(true);
    this.video.play().catch(() => this.setPlaying(false));
    if (this.audio.src) {
      this.audio.currentTime = 0;
      this.audio.play().catch(() => {});
    }
  }

  setPlaying(playing) {
    this.playingRange = playing;
    this.playButton.textContent = playing ? "Pause" : "Play range";
    this.playButton.setAttribute("aria-pressed", String(playing));
  }
}
