// Web chat: sends each message to the chat API and shows the replies.
(() => {
  "use strict";
  const root = document.querySelector(".chat");
  const api = root.dataset.api;
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  // The conversation is bound to the server's HttpOnly session cookie, not to an id here.
  localStorage.removeItem("ks-user-id");

  function add(kind, text, buttons) {
    const item = document.createElement("li");
    item.className = kind;
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    bubble.textContent = text;  // never innerHTML: replies are text
    item.appendChild(bubble);
    if (buttons && buttons.length) {
      const row = document.createElement("div");
      row.className = "buttons";
      for (const b of buttons) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = b.title;
        button.addEventListener("click", () => send(b.payload, b.title));
        row.appendChild(button);
      }
      item.appendChild(row);
    }
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  }

  async function send(text, shown, silent) {
    if (!silent) add("user", shown || text);
    try {
      const response = await fetch(api, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        credentials: "same-origin",
        body: JSON.stringify({ text }),
      });
      const body = await response.json();
      const replies = body.replies || [];
      if (!replies.length && body.error) add("bot error", body.error.message);
      for (const r of replies) add(response.ok ? "bot" : "bot error", r.text, r.buttons);
    } catch (e) {
      add("bot error", "Maaf, koneksi terputus. Coba lagi sebentar, ya.");
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send(text);
  });
  send("/greet", "", true);  // the greeting and menu, without a user bubble
})();
