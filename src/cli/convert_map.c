/* convert_map: the model-dependent mapping table (see convert_map.h). */
#include "cli/convert_map.h"

#include <stddef.h>

#include "model/keras.h"

/* One row per format whose names or layouts are not recur's. Keras .h5 (branch
 * interchange-keras) adds {WF_KERAS_H5, keras_import, keras_export} here. */
static const ConvertMap convert_maps[] = {
    {WF_KERAS_H5, keras_import, keras_export},
    {WF_NONE, NULL, NULL},
};

const ConvertMap *convert_map_for(WfId id)
{
    for (size_t i = 0; i < sizeof convert_maps / sizeof *convert_maps; i++)
        if (convert_maps[i].format == id && id != WF_NONE)
            return &convert_maps[i];
    return NULL;
}
