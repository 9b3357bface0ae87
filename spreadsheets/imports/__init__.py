"""The city office's spreadsheet imports: enterprises, the task library and county-office accounts.

- services: the entry points (importer_for, preview_import, apply_import, template_workbook);
- uploads: the uploaded file, kept in the default storage between preview and confirm;
- sheets: reading a sheet safely, the cell rules and SheetImport, shared by every kind;
- enterprises, indicators, offices: one module per kind of sheet.

The columns come from the django-import-export resources (spreadsheets.resources: their
Chinese headers and choice widgets).
"""
