// Files from the visitor: uploaded over HTTP first, then sent as a message carrying the token.

import { api, errorText } from "./api.js";
import { adoptConversation } from "./chat.js";
import { queueMessage } from "./composer.js";
import { $, banner } from "./dom.js";
import { S } from "./i18n.js";
import { state } from "./state.js";

const BANNER_SHOWN = 5000;

async function upload(file) {
  const body = new FormData();
  body.append("file", file);
  if (state.conversation && !state.closed) body.append("conversation", String(state.conversation));
  banner(S.uploading);
  try {
    const data = await api("upload", body, { form: true });
    banner("");
    if (data.conversation && (!state.conversation || state.closed)) adoptConversation(data.conversation);
    const preview = [{ url: URL.createObjectURL(file), filename: file.name, content_type: file.type }];
    queueMessage("", [data.token], preview);
  } catch (error) {
    banner(`${S.upload_failed} ${error.status === 413 ? "" : errorText(error)}`.trim());
    setTimeout(() => banner(""), BANNER_SHOWN);
  }
}

export function wireAttachments() {
  $("pw-file").addEventListener("change", (event) => {
    const input = event.currentTarget;
    const file = input.files && input.files[0];
    input.value = "";
    if (file) upload(file);
  });
}
