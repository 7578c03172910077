// Console: a live character count for fields with data-limit (the server checks anyway).
document.querySelectorAll("textarea[data-limit]").forEach((field) => {
  const out = document.querySelector(`output[data-count-for="${field.id}"]`);
  if (!out) return;
  const limit = Number(field.dataset.limit);
  const update = () => {
    out.textContent = field.value.trim().length;
    out.classList.toggle("over", field.value.trim().length > limit);
  };
  field.addEventListener("input", update);
  update();
});
