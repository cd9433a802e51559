// The page talks to the server only through the public Magic Hour-style API, the same one the SDK uses,
// so anything the page can do an API client can do too. URLs are resolved against the page's own
// address, which keeps the page working behind a reverse proxy that mounts the server under a prefix.

const KEY_STORAGE = "openlipsync.apiKey";

/** An API answer that is not a success, or no answer at all (status 0). */
export class ApiError extends Error {
  constructor(status, message, body = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }
}

export function storedKey() {
  return localStorage.getItem(KEY_STORAGE) || "";
}

export function storeKey(key) {
  localStorage.setItem(KEY_STORAGE, key);
}

export function forgetKey() {
  localStorage.removeItem(KEY_STORAGE);
}

function apiUrl(path) {
  return new URL(path.replace(/^\//, ""), document.baseURI).href;
}

function messageOf(status, body, fallback) {
  if (body && typeof body.message === "string" && body.message) return body.message;
  if (status === 0) return "Could not reach the server. Check the connection and try again.";
  return fallback || `The server answered ${status}.`;
}

/**
 * Calls one API endpoint with the stored key (or `key` when signing in with a new one).
 * Resolves to the parsed JSON body (null for 204) and rejects with ApiError carrying the server's message.
 */
export async function request(method, path, { body, key } = {}) {
  const headers = { Authorization: `Bearer ${key ?? storedKey()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(apiUrl(path), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, messageOf(0, null));
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, messageOf(response.status, data, response.statusText), data);
  return data;
}

/**
 * PUTs a file to a signed upload URL with XMLHttpRequest, because fetch cannot report upload progress.
 * The body is a type-less slice of the file so that no Content-Type header goes out: the SDK sends
 * none either, and a signed object-store URL may not allow one.
 */
export function putFile(url, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve();
        return;
      }
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        data = null;
      }
      reject(new ApiError(xhr.status, messageOf(xhr.status, data, `Upload refused (${xhr.status}).`), data));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, "The upload was interrupted. Try again.")));
    xhr.send(file.slice(0, file.size));
  });
}

export const api = {
  account: (key) => request("GET", "v1/account", { key }),
  uploadUrls: (items) => request("POST", "v1/files/upload-urls", { body: { items } }),
  createLipSync: (body) => request("POST", "v1/lip-sync", { body }),
  project: (id) => request("GET", `v1/video-projects/${encodeURIComponent(id)}`),
  projects: (limit = 50) => request("GET", `v1/video-projects?limit=${limit}`),
  deleteProject: (id) => request("DELETE", `v1/video-projects/${encodeURIComponent(id)}`),
};
