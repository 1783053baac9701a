// Frames over the server's websocket limit are not sent: the server would close the connection
// and the event would be lost without a word. Instead the person sees why and what to do.
(() => {
  const script = document.currentScript;
  const limit = Number((script && script.dataset.maxBytes) || 1000000);
  const send = WebSocket.prototype.send;

  const sizeOf = (data) => {
    if (typeof data === "string") {
      // UTF-8 takes at most 3 bytes per UTF-16 unit: only measure exactly when it could matter.
      return data.length * 3 <= limit ? data.length : new Blob([data]).size;
    }
    return data.byteLength ?? data.size ?? 0;
  };

  const megabytes = (n) => `${(n / 1000000).toFixed(1)} MB`;

  const notify = (size) => {
    let box = document.getElementById("frame-too-large");
    if (!box) {
      box = document.createElement("div");
      box.id = "frame-too-large";
      box.setAttribute("role", "alert");
      box.style.cssText =
        "position:fixed;left:50%;bottom:24px;transform:translateX(-50%);z-index:2147483647;" +
        "max-width:min(560px,calc(100vw - 32px));padding:12px 40px 12px 16px;border-radius:8px;" +
        "background:#fff1f0;color:#8c1d18;border:1px solid #f3b4ae;font:14px/1.4 system-ui;" +
        "box-shadow:0 4px 16px rgba(0,0,0,.15)";
      const close = document.createElement("button");
      close.type = "button";
      close.textContent = "×";
      close.setAttribute("aria-label", "Dismiss");
      close.style.cssText =
        "position:absolute;right:8px;top:6px;border:0;background:none;font-size:20px;" +
        "cursor:pointer;color:inherit";
      close.onclick = () => box.remove();
      box.append(document.createElement("span"), close);
      document.body.appendChild(box);
    }
    box.firstChild.textContent =
      `That was not sent: it is ${megabytes(size)}, and at most ${megabytes(limit)} can be ` +
      "sent at once. Shorten the text, or upload long documents to a knowledge collection.";
  };

  WebSocket.prototype.send = function (data) {
    const size = sizeOf(data);
    if (size > limit) {
      notify(size);
      return undefined;
    }
    return send.call(this, data);
  };
})();
