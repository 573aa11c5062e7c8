"""From the model to files: Terraform (tree, hcl, hcl_format), Markdown (docs, module_docs), workflows (workflows,
yaml_text), the render record and change warnings (record, changes), and the crash-safe writer (output)."""
