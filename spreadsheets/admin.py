"""The admin's spreadsheet import and export of enterprises and of the task library.

enterprises and tasks register their admins without spreadsheets (they do not import this app);
here the same admins are registered again with django-import-export and the resources of
spreadsheets.resources, so the import rules stay in the spreadsheets feature. The enterprises
admin is the one tasks.admin registers, where a change of county is a move.
"""

from django.contrib import admin
from import_export.admin import ImportExportModelAdmin

from enterprises.models import Enterprise
from tasks.admin import IndicatorAdmin, MovingEnterpriseAdmin
from tasks.models import Indicator

from .resources import EnterpriseResource, IndicatorResource


# The domain admin first, so its scoping mixins come before import-export in the MRO.
class EnterpriseSpreadsheetAdmin(MovingEnterpriseAdmin, ImportExportModelAdmin):
    resource_classes = [EnterpriseResource]


class IndicatorSpreadsheetAdmin(IndicatorAdmin, ImportExportModelAdmin):
    resource_classes = [IndicatorResource]


for model, model_admin in ((Enterprise, EnterpriseSpreadsheetAdmin), (Indicator, IndicatorSpreadsheetAdmin)):
    admin.site.unregister(model)
    admin.site.register(model, model_admin)
