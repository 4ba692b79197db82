// The API tokens page: "Copy" puts the new token's secret on the clipboard.
// Wired by data attributes (no inline handlers): data-copy="<selector of the input>".
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const field = document.querySelector(button.dataset.copy);
  if (!field) return;
  field.select();
  try {
    await navigator.clipboard.writeText(field.value);
  } catch {
    // No clipboard access (plain http): the text is selected, ready for Ctrl+C.
    return;
  }
  const label = button.textContent;
  button.textContent = button.dataset.copied || label;
  setTimeout(() => { button.textContent = label; }, 2000);
});
