// Whose mouth speaks: a click on a face in the video preview picks that person (the API's `face`
// field: a point in the video's own pixels, at the preview's current time); "Automatic speaker"
// forgets the pick and lets the server choose the face that speaks. The preview scales the video
// to fit (object-fit: contain), so a click is mapped through the letterbox to natural pixels.

import { seconds } from "./format.js";

const AUTOMATIC_TEXT =
  "Speaker: automatic (the face that speaks in the video). Several people? Click the one who should speak.";

/** Where the video's picture lies inside the element: its offset and the scale of its pixels. */
export function pictureBox(video) {
  const box = video.getBoundingClientRect();
  const { videoWidth: width, videoHeight: height } = video;
  if (!width || !height || !box.width || !box.height) return null;
  const scale = Math.min(box.width / width, box.height / height);
  return {
    box,
    scale,
    left: (box.width - width * scale) / 2,
    top: (box.height - height * scale) / 2,
    width,
    height,
  };
}

export class FacePicker {
  /**
   * @param {object} parts  DOM elements: video (the preview), marker, panel (shown with a preview),
   *   status, clear (the "Automatic speaker" button).
   * @param {() => void} onChange  called when the pick changes (to clear stale errors).
   */
  constructor(parts, onChange) {
    Object.assign(this, parts);
    this.onChange = onChange;
    /** The pick as the API takes it, {x, y, time}; null: automatic. */
    this.face = null;
    this.video.addEventListener("click", (event) => this.pick(event));
    this.clear.addEventListener("click", () => {
      this.reset();
      this.status.focus(); // the button goes away; focus stays where the change is told
    });
    new ResizeObserver(() => this.place()).observe(this.video);
    this.reset();
  }

  /** Back to automatic; also when the video changes, since a point only means something on its own video. */
  reset() {
    const changed = this.face !== null;
    this.face = null;
    this.marker.hidden = true;
    this.clear.hidden = true;
    this.status.textContent = AUTOMATIC_TEXT;
    if (changed) this.onChange();
  }

  /** Show the choice only while there is a preview to click on. */
  setAvailable(available) {
    this.panel.hidden = !available;
    if (!available) this.reset();
  }

  pick(event) {
    const picture = pictureBox(this.video);
    if (!picture) return;
    const x = (event.clientX - picture.box.left - picture.left) / picture.scale;
    const y = (event.clientY - picture.box.top - picture.top) / picture.scale;
    if (x < 0 || y < 0 || x > picture.width || y > picture.height) return; // on the black bars
    const time = Math.round(this.video.currentTime * 1000) / 1000;
    this.face = {
      x: Math.min(Math.round(x), picture.width - 1),
      y: Math.min(Math.round(y), picture.height - 1),
      time,
    };
    this.clear.hidden = false;
    this.status.textContent =
      `Speaker: the person at ${this.face.x}, ${this.face.y} px (at ${seconds(time)} into the video).` +
      " Click another face to change it.";
    this.place();
    this.onChange();
  }

  /** The marker on the picked point, wherever the preview is now drawn (it follows resizes). */
  place() {
    const picture = this.face && pictureBox(this.video);
    if (!picture) {
      this.marker.hidden = true;
      return;
    }
    this.marker.style.left = `${this.video.offsetLeft + picture.left + this.face.x * picture.scale}px`;
    this.marker.style.top = `${this.video.offsetTop + picture.top + this.face.y * picture.scale}px`;
    this.marker.hidden = false;
  }
}
